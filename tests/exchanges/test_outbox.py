"""Outbox: trades reach the bus in order, coalesced, and producers wait when it is full."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from cryptoviz.bus.memory import MemoryBus
from cryptoviz.exchanges.outbox import Outbox
from cryptoviz.models import TOPIC_RAW_TRADES, Trade


def t(trade_id: int) -> Trade:
    return Trade("binance", "BTCUSDT", trade_id, Decimal(1), Decimal(1), 1_700_000_000_000, False)


async def test_trades_are_published_in_order_and_coalesced() -> None:
    bus = MemoryBus(queue_batches=64, max_batch=1000)
    sub = bus.subscribe([TOPIC_RAW_TRADES], "test", Trade)
    outbox = Outbox(bus, TOPIC_RAW_TRADES, capacity=10_000)
    publisher = asyncio.create_task(outbox.run())
    for i in range(300):  # one trade per frame, as a live feed delivers them, with no await between
        outbox.put([t(i)])
    await asyncio.wait_for(outbox.drained(), 10)
    batches: list[list[Trade]] = []
    while sum(len(b) for b in batches) < 300:
        _topic, batch = await asyncio.wait_for(sub.get(), 10)
        batches.append(batch)
        await sub.commit()
    assert [trade.trade_id for batch in batches for trade in batch] == list(range(300))
    assert len(batches) == 1  # one hand-off for everything queued between two wake-ups
    assert outbox.published == 300
    publisher.cancel()
    await asyncio.gather(publisher, return_exceptions=True)


async def test_a_full_outbox_makes_producers_wait_until_the_bus_takes_it() -> None:
    bus = MemoryBus(queue_batches=1, max_batch=5)
    sub = bus.subscribe([TOPIC_RAW_TRADES], "test", Trade)
    outbox = Outbox(bus, TOPIC_RAW_TRADES, capacity=5)
    publisher = asyncio.create_task(outbox.run())
    outbox.put([t(i) for i in range(5)])  # taken by the publisher into the bus's only slot
    await asyncio.sleep(0.05)
    outbox.put([t(i) for i in range(5, 10)])  # the publisher waits on the full bus queue
    await asyncio.sleep(0.05)
    outbox.put([t(i) for i in range(10, 15)])  # the outbox is full now
    waiter = asyncio.create_task(outbox.room())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    assert outbox.pending == 5
    received: list[int] = []
    while len(received) < 15:
        _topic, batch = await asyncio.wait_for(sub.get(), 10)
        received += [trade.trade_id for trade in batch]
        await sub.commit()
    await asyncio.wait_for(waiter, 10)
    await asyncio.wait_for(outbox.drained(), 10)
    assert received == list(range(15))
    publisher.cancel()
    await asyncio.gather(publisher, return_exceptions=True)
