"""KafkaBus against a real broker: groups, order per symbol, at-least-once commits, drain,
where new groups start, bad messages, topic settings, and a broker that goes away.

Each test gets its own topic prefix and group id, so tests never see each other's data on
the shared broker. Waits are on conditions with generous deadlines, never on speed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from cryptoviz.bus.kafka import KafkaBus, message_key
from cryptoviz.bus.kafka_admin import GUIDE_TOPICS, KafkaBusError
from cryptoviz.bus.kafka_consumer import KafkaSubscription
from cryptoviz.config import BusConfig
from cryptoviz.errors import BusClosed
from cryptoviz.models import TOPIC_RAW_TRADES, NewsItem, Trade
from tests.servers import KafkaServer

DEADLINE = 120.0


def bus_config(bootstrap: str, **changes: Any) -> BusConfig:
    tag = uuid.uuid4().hex[:10]
    settings: dict[str, Any] = {
        "backend": "kafka",
        "kafka_bootstrap": bootstrap,
        "kafka_topic_prefix": f"t{tag}.",
        "group_id": f"g{tag}",
        "kafka_partitions": 3,
        "kafka_linger_ms": 5,
        **changes,
    }
    return msgspec.convert(settings, BusConfig)


@pytest.fixture
async def bus(kafka_bootstrap: str) -> AsyncIterator[KafkaBus]:
    bus = KafkaBus(bus_config(kafka_bootstrap))
    await asyncio.wait_for(bus.start(), DEADLINE)
    yield bus
    await bus.stop()


def trade(symbol: str, trade_id: int) -> Trade:
    return Trade(
        "binance",
        symbol,
        trade_id,
        Decimal("65000.10"),
        Decimal("0.00100"),
        1_700_000_000_000 + trade_id,
        False,
    )


async def take(sub: KafkaSubscription, count: int, *, commit: bool = True) -> list[Any]:
    """Read batches until `count` messages arrived; committing each batch unless told not to."""
    got: list[Any] = []

    async def loop() -> None:
        while len(got) < count:
            _, batch = await sub.get()
            got.extend(batch)
            if commit:
                await sub.commit()

    await asyncio.wait_for(loop(), DEADLINE)
    return got


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    async def loop() -> None:
        while not condition():  # noqa: ASYNC110 - polls state that no event announces
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(loop(), DEADLINE)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


async def test_every_group_gets_every_message_in_order_per_symbol(bus: KafkaBus) -> None:
    a = bus.subscribe([TOPIC_RAW_TRADES], "a", Trade)
    b = bus.subscribe([TOPIC_RAW_TRADES], "b", Trade)
    sent = [trade(s, i) for i in range(300) for s in ("BTCUSDT", "ETHUSDT", "DOTUSDT")]
    await bus.publish(TOPIC_RAW_TRADES, sent)
    for sub in (a, b):
        got = await take(sub, len(sent))
        assert sorted(got, key=lambda t: (t.symbol, t.trade_id)) == sorted(
            sent, key=lambda t: (t.symbol, t.trade_id)
        )
        for symbol in ("BTCUSDT", "ETHUSDT", "DOTUSDT"):
            assert [t.trade_id for t in got if t.symbol == symbol] == list(range(300))
    assert isinstance(got[0].price, Decimal)
    assert got[0].price == Decimal("65000.10")


async def test_get_returns_one_topic_per_batch_under_its_own_name(bus: KafkaBus) -> None:
    sub = bus.subscribe(["x.one", "x.two"], "g", int)
    await bus.publish("x.one", [1, 2, 3])
    await bus.publish("x.two", [10, 20])
    seen: dict[str, list[int]] = {}
    while sum(map(len, seen.values())) < 5:
        topic, batch = await asyncio.wait_for(sub.get(), DEADLINE)
        seen.setdefault(topic, []).extend(batch)
        await sub.commit()
    # Unkeyed messages spread over the partitions, so only their set is fixed.
    assert {topic: sorted(batch) for topic, batch in seen.items()} == {"x.one": [1, 2, 3], "x.two": [10, 20]}


async def test_consumers_of_one_group_share_the_partitions(bus: KafkaBus) -> None:
    first = bus.subscribe(["shared"], "g", Trade)
    second = bus.subscribe(["shared"], "g", Trade)
    symbols = [f"S{n}USDT" for n in range(12)]
    await bus.publish("shared", [trade(s, i) for s in symbols for i in range(5)])
    got: list[Trade] = []

    async def drain_into(sub: KafkaSubscription) -> None:
        while True:
            _, batch = await sub.get()
            got.extend(batch)
            await sub.commit()

    readers = [asyncio.create_task(drain_into(s)) for s in (first, second)]
    try:
        await wait_for(lambda: len(got) >= 60, "60 trades across the group")
        await asyncio.wait_for(bus.drain(), DEADLINE)
        await wait_for(lambda: owned(first) > 0 and owned(second) > 0, "both consumers to hold partitions")
        assert owned(first) + owned(second) == 3
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    # At least once: a rebalance while the second consumer joins may deliver a batch twice.
    assert {(t.symbol, t.trade_id) for t in got} == {(s, i) for s in symbols for i in range(5)}


async def test_uncommitted_batches_come_again_and_committed_ones_do_not(bus: KafkaBus) -> None:
    sub = bus.subscribe(["redo"], "g", int)
    await bus.publish("redo", list(range(10)))
    assert sorted(await take(sub, 10, commit=False)) == list(range(10))
    await sub.shutdown()  # leaves without committing: a crash after reading

    again = bus.subscribe(["redo"], "g", int)
    assert sorted(await take(again, 10)) == list(range(10))
    await again.close()

    await bus.publish("redo", [99])
    last = bus.subscribe(["redo"], "g", int)
    assert await take(last, 1) == [99]


async def test_drain_waits_until_every_local_group_committed(bus: KafkaBus) -> None:
    sub = bus.subscribe(["d"], "g", int)
    other = bus.subscribe(["d"], "h", int)
    await bus.publish("d", list(range(20)))
    drain = asyncio.create_task(bus.drain())
    await take(sub, 20)
    got = await take(other, 20, commit=False)
    assert sorted(got) == list(range(20))
    assert not drain.done()  # `h` has not committed
    await other.commit()
    await asyncio.wait_for(drain, DEADLINE)
    assert await bus.behind() == 0


def owned(sub: KafkaSubscription) -> int:
    return sum(sub.owns(sub.kafka_topics[0], p) for p in range(3))


async def test_drain_asks_the_broker_for_partitions_another_instance_consumes(bus: KafkaBus) -> None:
    peer = KafkaBus(bus.config)  # another instance of the same deployment
    await asyncio.wait_for(peer.start(), DEADLINE)
    mine, theirs = bus.subscribe(["m"], "g", Trade), peer.subscribe(["m"], "g", Trade)
    got: list[Trade] = []
    release = asyncio.Event()

    async def read(sub: KafkaSubscription, commit_when: asyncio.Event | None) -> None:
        while True:
            _, batch = await sub.get()
            got.extend(batch)
            if commit_when is not None:
                await commit_when.wait()
            await sub.commit()

    readers = [asyncio.create_task(read(mine, None)), asyncio.create_task(read(theirs, release))]
    try:
        await wait_for(lambda: owned(mine) > 0 and owned(theirs) > 0, "both instances to hold partitions")
        await bus.publish("m", [trade(f"S{n}USDT", 1) for n in range(24)])
        await wait_for(lambda: len(got) >= 24, "every trade to be read")
        drain = asyncio.create_task(bus.drain())
        await asyncio.sleep(1.0)
        assert not drain.done()  # the peer has read its share but not committed it
        release.set()
        await asyncio.wait_for(drain, DEADLINE)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await peer.stop()


async def test_a_new_group_starts_where_it_subscribed(bus: KafkaBus) -> None:
    await bus.publish("late", [1, 2, 3])  # before any group: nobody was listening
    sub = bus.subscribe(["late"], "g", int)
    await bus.publish("late", [4, 5])
    assert sorted(await take(sub, 2)) == [4, 5]
    await sub.close()
    await bus.publish("late", [6])  # while the group has no consumer: kept for it
    back = bus.subscribe(["late"], "g", int)
    assert await take(back, 1) == [6]


async def test_a_message_that_does_not_decode_is_skipped_and_committed(bus: KafkaBus) -> None:
    sub = bus.subscribe(["bad"], "g", Trade)
    await bus.publish("bad", [trade("BTCUSDT", 1)])
    assert [t.trade_id for t in await take(sub, 1)] == [1]
    producer = AIOKafkaProducer(bootstrap_servers=bus.config.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(bus.topic_name("bad"), b"not json", key=b"BTCUSDT")
        await producer.send_and_wait(bus.topic_name("bad"), b'{"symbol": "BTCUSDT"}', key=b"BTCUSDT")
    finally:
        await producer.stop()
    await bus.publish("bad", [trade("BTCUSDT", 2)])
    assert [t.trade_id for t in await take(sub, 1)] == [2]
    assert sub.undecodable == 2
    await sub.close()
    await bus.publish("bad", [trade("BTCUSDT", 3)])
    back = bus.subscribe(["bad"], "g", Trade)
    assert [t.trade_id for t in await take(back, 1)] == [3]  # the bad ones were committed too


async def test_topics_are_created_with_the_configured_partitions_and_retention(kafka_bootstrap: str) -> None:
    config = bus_config(kafka_bootstrap, kafka_partitions=4, kafka_retention_hours=2.0)
    bus = KafkaBus(config)
    await asyncio.wait_for(bus.start(), DEADLINE)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        names = [config.kafka_topic_prefix + t for t in GUIDE_TOPICS]
        described = await admin.describe_topics(names)
        assert {d["topic"]: len(d["partitions"]) for d in described} == dict.fromkeys(names, 4)
        resources = [ConfigResource(ConfigResourceType.TOPIC, names[0], None)]
        (response,) = await admin.describe_configs(resources)
        entries = {entry[0]: entry[1] for entry in response.resources[0][4]}
        assert entries["retention.ms"] == str(2 * 3_600_000)
    finally:
        await admin.close()
        await bus.stop()


async def test_a_replication_the_cluster_cannot_have_is_a_clear_error(kafka_bootstrap: str) -> None:
    bus = KafkaBus(bus_config(kafka_bootstrap, kafka_replication=3))
    with pytest.raises(KafkaBusError, match="InvalidReplicationFactor"):
        await asyncio.wait_for(bus.start(), DEADLINE)
    await bus.stop()


async def test_stop_wakes_consumers_and_refuses_publishers(bus: KafkaBus) -> None:
    sub = bus.subscribe(["s"], "g", int)
    waiting = asyncio.create_task(sub.get())
    await wait_for(lambda: sub._consumer is not None, "the consumer to join")
    await bus.stop()
    with pytest.raises(BusClosed):
        await asyncio.wait_for(waiting, DEADLINE)
    with pytest.raises(BusClosed):
        await bus.publish("s", [1])


async def test_lag_shows_what_a_group_has_not_committed(bus: KafkaBus) -> None:
    sub = bus.subscribe(["lag"], "g", int)
    await bus.publish("lag", list(range(5)))
    await take(sub, 5, commit=False)
    key = f"lag/{bus.config.group_id}.g"
    assert bus.depths()[key] == 5
    await sub.commit()
    assert bus.depths()[key] == 0


def test_keys_are_symbols_and_news_ids() -> None:
    assert message_key(trade("BTCUSDT", 1)) == b"BTCUSDT"
    news = NewsItem("abc", "t", "https://x.test/a", "x.test", 0, "", ["BTCUSDT", "ETHUSDT"], 0.0)
    assert message_key(news) == b"abc"
    assert message_key(7) is None


@pytest.mark.slow
async def test_a_broker_that_goes_away_and_comes_back_loses_nothing(
    kafka_factory: Callable[[], KafkaServer],
) -> None:
    server = kafka_factory()
    # A short request timeout, so the outage outlasts the producer's own retries and
    # `publish` has to back off and send again.
    bus = KafkaBus(bus_config(server.bootstrap), request_timeout_ms=2000)
    await asyncio.wait_for(bus.start(), DEADLINE)
    try:
        sub = bus.subscribe([TOPIC_RAW_TRADES], "g", Trade)
        await bus.publish(TOPIC_RAW_TRADES, [trade("BTCUSDT", i) for i in range(100)])
        assert [t.trade_id for t in await take(sub, 100)] == list(range(100))

        server.stop()
        publishing = asyncio.create_task(
            bus.publish(TOPIC_RAW_TRADES, [trade("BTCUSDT", i) for i in range(100, 200)])
        )
        late = KafkaBus(msgspec.structs.replace(bus.config))
        starting = asyncio.create_task(late.start())  # a start while the broker is away waits for it
        await asyncio.sleep(6.0)  # past the request timeout: the producer gave up at least once
        assert not publishing.done()
        assert not starting.done()

        server.start()
        await asyncio.wait_for(asyncio.gather(publishing, starting), DEADLINE)
        got = [t.trade_id for t in await take(sub, 100)]
        # At least once: a batch may come twice, but every trade arrives, in order per symbol.
        assert sorted(set(got)) == list(range(100, 200))
        assert list(dict.fromkeys(got)) == list(range(100, 200))
        await asyncio.wait_for(bus.drain(), DEADLINE)
        await late.stop()
    finally:
        await bus.stop()
