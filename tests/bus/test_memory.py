"""MemoryBus: every group gets every message, a full queue makes producers wait, drain."""

from __future__ import annotations

import asyncio

import pytest

from cryptoviz.bus.memory import MemoryBus
from cryptoviz.errors import BusClosed


async def test_each_group_receives_every_message_in_order() -> None:
    bus = MemoryBus(queue_batches=8, max_batch=2)
    a = bus.subscribe(["t"], "a", int)
    b = bus.subscribe(["t"], "b", int)
    await bus.publish("t", [1, 2, 3])
    for sub in (a, b):
        assert await sub.get() == ("t", [1, 2])
        assert await sub.get() == ("t", [3])


async def test_consumers_of_one_group_share_the_messages() -> None:
    bus = MemoryBus()
    first = bus.subscribe(["t"], "g", int)
    second = bus.subscribe(["t"], "g", int)
    await bus.publish("t", [1])
    await bus.publish("t", [2])
    got = [await first.get(), await second.get()]
    assert sorted(batch for _, batch in got) == [[1], [2]]


async def test_full_queue_makes_the_producer_wait_and_loses_nothing() -> None:
    bus = MemoryBus(queue_batches=2, max_batch=1)
    sub = bus.subscribe(["t"], "g", int)
    producer = asyncio.create_task(bus.publish("t", list(range(10))))
    await asyncio.sleep(0.01)
    assert not producer.done()  # blocked by the bounded queue
    received: list[int] = []
    while len(received) < 10:
        _, batch = await sub.get()
        received += batch
        await sub.commit()
    await producer
    assert received == list(range(10))


async def test_topic_without_subscribers_is_a_no_op() -> None:
    bus = MemoryBus()
    await bus.publish("nobody", [1, 2])
    await asyncio.wait_for(bus.drain(), 1)


async def test_drain_waits_until_batches_are_committed() -> None:
    bus = MemoryBus()
    sub = bus.subscribe(["t"], "g", int)
    await bus.publish("t", [1])
    drain = asyncio.create_task(bus.drain())
    await sub.get()
    await asyncio.sleep(0.01)
    assert not drain.done()
    await sub.commit()
    await asyncio.wait_for(drain, 1)


async def test_stop_wakes_consumers_and_refuses_publishers() -> None:
    bus = MemoryBus()
    sub = bus.subscribe(["t"], "g", int)
    waiting = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    await bus.stop()
    with pytest.raises(BusClosed):
        await waiting
    with pytest.raises(BusClosed):
        await bus.publish("t", [1])


async def test_a_publish_cancelled_while_waiting_does_not_block_drain() -> None:
    bus = MemoryBus(queue_batches=1, max_batch=1)
    sub = bus.subscribe(["t"], "g", int)
    await bus.publish("t", [1])
    blocked = asyncio.create_task(bus.publish("t", [2]))
    await asyncio.sleep(0.01)
    blocked.cancel()
    await asyncio.gather(blocked, return_exceptions=True)
    await sub.get()
    await sub.commit()
    await asyncio.wait_for(bus.drain(), 1)
