"""BatchingConsumer: a commit covers only what was accepted and written."""

from __future__ import annotations

import asyncio
from typing import Any

from cryptoviz.batching import BatchingConsumer
from cryptoviz.bus.memory import MemoryBus


async def test_a_message_arriving_during_a_write_is_not_committed_with_it() -> None:
    bus = MemoryBus()
    await bus.start()
    sub = bus.subscribe(["t"], "g", dict)
    accepted: list[Any] = []
    pending: list[Any] = []
    writing = asyncio.Event()
    releases = [asyncio.Event(), asyncio.Event()]  # one per write
    writes = 0

    async def accept(topic: str, items: list[Any]) -> None:
        accepted.extend(items)
        pending.extend(items)

    async def write() -> None:
        nonlocal writes
        writing.set()
        await releases[writes].wait()
        writes += 1
        pending.clear()

    consumer = BatchingConsumer(
        sub, accept, write, lambda: len(pending), lambda exc: None,
        draining=asyncio.Event(), batch_size=1000, flush_ms=20, what="test",
    )  # fmt: skip
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(10):  # a regression must fail, not hang
            await bus.publish("t", ["a"])
            await asyncio.wait_for(writing.wait(), 5)  # "a" is being written, after its age limit
            await bus.publish("t", ["b"])  # arrives while the write is under way
            await asyncio.sleep(0.05)
            releases[0].set()
            await asyncio.sleep(0.05)  # "a" committed; "b" read since, waiting for its own write
            drained = asyncio.ensure_future(bus.drain())
            await asyncio.sleep(0.05)
            assert (accepted, pending, writes) == (["a", "b"], ["b"], 1)
            assert not drained.done(), "the commit after writing 'a' also covered 'b', never written"
            releases[1].set()
            await asyncio.wait_for(drained, 5)  # the write of "b" commits it
            assert (pending, writes) == ([], 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.stop()
