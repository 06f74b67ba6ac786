"""The hub's feed on the Kafka bus (a real broker): two API instances, each in a group of its
own, both see every message, and neither replays what was published before it subscribed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cryptoviz.bus.kafka import KafkaBus
from cryptoviz.config import HubConfig
from cryptoviz.hub.feed import HubFeed
from cryptoviz.hub.hub import Hub
from cryptoviz.models import TOPIC_RAW_TRADES
from cryptoviz.tasks import Supervisor
from tests.bus.test_kafka import DEADLINE, bus_config, trade
from tests.hub.held import HeldSend


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():  # noqa: ASYNC110 - polls state that no event announces
            await asyncio.sleep(0.05)


async def test_every_instance_sees_every_trade_and_nothing_from_before_it_subscribed(
    kafka_bootstrap: str,
) -> None:
    config = bus_config(kafka_bootstrap)
    buses = [KafkaBus(config), KafkaBus(config)]  # two API instances on one cluster
    for bus in buses:
        await asyncio.wait_for(bus.start(), DEADLINE)
    await buses[0].publish(TOPIC_RAW_TRADES, [trade("OLDUSDT", i) for i in range(1, 4)])
    tasks = Supervisor()
    hubs = [Hub(HubConfig()) for _ in buses]
    feeds = [HubFeed(hub) for hub in hubs]
    try:
        for feed, bus in zip(feeds, buses, strict=True):
            feed.start(bus, tasks)
        assert feeds[0].group != feeds[1].group
        await buses[1].publish(TOPIC_RAW_TRADES, [trade("NEWUSDT", i) for i in range(1, 6)])
        await _until(lambda: all(("trades", "NEWUSDT", None) in h.streams for h in hubs))
        await _until(lambda: all(h.streams["trades", "NEWUSDT", None].seq == 5 for h in hubs))
        for hub in hubs:
            stream = hub.streams["trades", "NEWUSDT", None]
            assert [f.item.trade_id for f in stream.history] == [1, 2, 3, 4, 5]
            assert ("trades", "OLDUSDT", None) not in hub.streams
        client = hubs[0].connect(HeldSend())
        assert client is not None
        hubs[0].receive(
            client, '{"action": "subscribe", "type": "trades", "symbol": "NEWUSDT", "since_seq": 2}'
        )
        assert [e["text"][:40] for e in client.send.events] == ['{"type":"subscribed","data":{"type":"tra']
        assert [f.seq for f in client.buf] == [3, 4, 5]  # behind the reply, which is in flight
    finally:
        for feed in feeds:
            await feed.stop()
        for bus in buses:
            await bus.stop()
