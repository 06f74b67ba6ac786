"""Bus -> hub on the real memory bus: every topic, trade ids forwarded once, a consumer group
per instance, and a client that never reads never holds the producers back."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from cryptoviz.bus.memory import MemoryBus
from cryptoviz.config import HubConfig
from cryptoviz.hub.client import Client
from cryptoviz.hub.feed import HubFeed
from cryptoviz.hub.hub import Hub
from cryptoviz.models import (
    TOPIC_NEWS,
    TOPIC_RAW_TRADES,
    Candle,
    IndicatorPoint,
    NewsItem,
    Trade,
    candle_topic,
    indicator_topic,
)
from cryptoviz.tasks import Supervisor
from tests.hub.held import HeldSend, taken


def trade(trade_id: int, exchange: str = "x", symbol: str = "AAA") -> Trade:
    return Trade(exchange, symbol, trade_id, Decimal("10.5"), Decimal("1"), 1_722_000_000_000, False)


def subscribe(hub: Hub, *messages: dict[str, Any]) -> Client:
    client = hub.connect(HeldSend())
    assert client is not None
    for message in messages:
        hub.receive(client, json.dumps({"action": "subscribe", **message}))
    taken(client)
    return client


async def started(bus: MemoryBus, tasks: Supervisor, **config: Any) -> tuple[Hub, HubFeed]:
    hub = Hub(HubConfig(**config))
    feed = HubFeed(hub)
    feed.start(bus, tasks)
    return hub, feed


async def test_every_topic_reaches_the_hub_and_repeated_trade_ids_are_dropped() -> None:
    bus, tasks = MemoryBus(), Supervisor()
    await bus.start()
    hub, feed = await started(bus, tasks)
    client = subscribe(
        hub, {"type": "trades", "symbol": "*"}, {"type": "candles", "symbol": "AAA", "timeframe": "4h"},
        {"type": "indicators", "symbol": "AAA", "timeframe": "1d"}, {"type": "news", "symbol": "*"},
    )  # fmt: skip
    try:
        await bus.publish(TOPIC_RAW_TRADES, [trade(5), trade(6), trade(6), trade(4), trade(6, exchange="y")])
        await bus.publish(TOPIC_RAW_TRADES, [trade(7), trade(5)])
        d = Decimal(1)
        await bus.publish(candle_topic("4h"), [Candle("AAA", "4h", 0, d, d, d, d, d, 1, d, d, False, 7)])
        await bus.publish(indicator_topic("bollinger"), [IndicatorPoint("AAA", "1d", "bollinger", 0, 1.0)])
        await bus.publish(TOPIC_NEWS, [NewsItem("n", "t", "u", "s", 0, "", ["AAA"], 0.1)])
        await asyncio.wait_for(bus.drain(), 10)
        got = taken(client)  # each topic keeps its order; topics interleave freely
        trades = [(m["data"]["trade_id"], m["seq"]) for m in got if m["type"] == "trade"]
        assert trades == [(5, 1), (6, 2), (6, 3), (7, 4)]  # (y, 6) is another exchange's first id
        assert sorted(m["type"] for m in got if m["type"] != "trade") == ["candle", "indicator", "news"]
        assert feed.repeated_trades == 3
        assert feed.running()
    finally:
        await feed.stop()
        await bus.stop()
    assert not feed.running()


async def test_each_instance_has_its_own_group_and_sees_every_message() -> None:
    bus, tasks = MemoryBus(), Supervisor()
    await bus.start()
    (hub_a, feed_a), (hub_b, feed_b) = await started(bus, tasks), await started(bus, tasks)
    a, b = (
        subscribe(hub_a, {"type": "trades", "symbol": "AAA"}),
        subscribe(hub_b, {"type": "trades", "symbol": "AAA"}),
    )
    try:
        assert feed_a.group != feed_b.group
        assert feed_a.group.startswith("hub-")
        await bus.publish(TOPIC_RAW_TRADES, [trade(1), trade(2)])
        await asyncio.wait_for(bus.drain(), 10)
        assert [m["seq"] for m in taken(a)] == [1, 2]
        assert [m["seq"] for m in taken(b)] == [1, 2]
    finally:
        await feed_a.stop()
        await feed_b.stop()
        await bus.stop()


async def test_a_client_that_never_reads_never_holds_the_producer_back() -> None:
    bus, tasks = MemoryBus(queue_batches=2, max_batch=100), Supervisor()
    await bus.start()
    hub, feed = await started(bus, tasks, send_buffer=50)
    client = subscribe(hub, {"type": "trades", "symbol": "AAA"})
    try:
        for start in range(1, 5001, 100):  # 5000 trades through a 2-batch queue
            await asyncio.wait_for(
                bus.publish(TOPIC_RAW_TRADES, [trade(i) for i in range(start, start + 100)]), 10
            )
        await asyncio.wait_for(bus.drain(), 10)
        assert len(client.buf) <= 50 + 1  # bounded: the buffer plus its `lagged` marker
        assert client.dropped_trades > 4000
        assert hub.streams[next(iter(hub.streams))].seq == 5000
    finally:
        await feed.stop()
        await bus.stop()
