"""MemoryDedup: bounded in entries and age."""

from __future__ import annotations

import asyncio

from cryptoviz.dedup.memory import MemoryDedup


async def test_second_sighting_is_reported_including_within_one_batch() -> None:
    dedup = MemoryDedup(max_entries=100, ttl_seconds=60)
    assert await dedup.check_and_mark([("x", "A", 1), ("x", "A", 2), ("x", "A", 1)]) == [False, False, True]
    assert await dedup.check_and_mark([("x", "A", 2)]) == [True]
    assert dedup.status()["hits"] == 2


async def test_bounded_in_entries() -> None:
    dedup = MemoryDedup(max_entries=10, ttl_seconds=60)
    await dedup.check_and_mark(list(range(100)))
    assert dedup.status()["entries"] == 10
    assert await dedup.check_and_mark([0]) == [False]  # evicted: storage keys catch it


async def test_entries_expire() -> None:
    dedup = MemoryDedup(max_entries=10, ttl_seconds=0.05)
    await dedup.check_and_mark(["k"])
    await asyncio.sleep(0.1)
    assert await dedup.check_and_mark(["k"]) == [False]
