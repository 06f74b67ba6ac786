"""MemoryDedup: asking marks nothing; bounded in entries and age."""

from __future__ import annotations

import asyncio

from cryptoviz.dedup.memory import MemoryDedup


async def test_asking_marks_nothing() -> None:
    dedup = MemoryDedup(max_entries=100, ttl_seconds=60)
    keys = [("x", "A", 1), ("x", "A", 2), ("x", "A", 1)]
    assert await dedup.seen(keys) == [False, False, False]
    assert await dedup.seen(keys) == [False, False, False]  # not marked by asking
    await dedup.mark(keys[:2])
    assert await dedup.seen([("x", "A", 2), ("x", "A", 3)]) == [True, False]
    assert (dedup.status()["hits"], dedup.status()["misses"]) == (1, 7)


async def test_bounded_in_entries() -> None:
    dedup = MemoryDedup(max_entries=10, ttl_seconds=60)
    await dedup.mark(list(range(100)))
    assert dedup.status()["entries"] == 10
    assert await dedup.seen([0, 99]) == [False, True]  # 0 evicted: storage keys catch it


async def test_entries_expire_counted_from_their_last_mark() -> None:
    dedup = MemoryDedup(max_entries=10, ttl_seconds=0.2)
    await dedup.mark(["k", "j"])
    await asyncio.sleep(0.12)
    await dedup.mark(["k"])
    await asyncio.sleep(0.12)
    assert await dedup.seen(["k", "j"]) == [True, False]
    await asyncio.sleep(0.12)
    assert await dedup.seen(["k"]) == [False]
