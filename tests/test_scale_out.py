"""Scale-out by role on one Kafka, PostgreSQL and Redis: what the stored tables and the REST
API hold equals the embedded run's.

Instances, each a Runtime in this process with its own bus clients and storage pool:
- a collector: the replay of a recording, nothing else;
- aggregators: the candles plugin's aggregate role only, one consumer group on
  `crypto.raw.trades` (six partitions; the recording's three symbols land on three);
- a persister: trades, the candles plugin's store role, indicators;
- an API instance: the REST API and the hub, no plugin.

With two aggregators joined before any trade, each symbol is aggregated by exactly the
aggregator holding its partition. With a second aggregator joining mid-replay and leaving
later, symbols move there and back, and their candles and indicators still come out
exactly as in the embedded run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import TopicPartition
from litestar.testing import AsyncTestClient

from cryptoviz.app import create_app
from cryptoviz.config import Config
from cryptoviz.models import INTERVALS, TOPIC_RAW_TRADES, candle_topic
from cryptoviz.plugin import discover, select
from cryptoviz.replay.command import replay_plugins
from cryptoviz.runtime import Runtime
from tests.conftest import make_config
from tests.storage.postgres_db import differences, dump_postgres, dump_sqlite, fresh_database, query

pytestmark = pytest.mark.slow
DEADLINE = 240.0
PARTITIONS = 6
RECORDING = "binance/spot-BTC-ETH-DOT-2021-04-04.jsonl"  # 91 s of trades of three symbols
TRADES = 1_910
SYMBOLS = ("BTCUSDT", "DOTUSDT", "ETHUSDT")
NO_RETENTION = "{" + ", ".join(f'"{k}" = 0' for k in ("trades", *INTERVALS)) + "}"
CANDLE_TOPICS = [candle_topic(i) for i in INTERVALS]


class Deployment:
    """Configs of the roles of one deployment: one topic prefix, group prefix, Redis prefix
    and database."""

    def __init__(self, tmp_path: Path, kafka: str, redis: str, dsn: str) -> None:
        self.tag = f"scale{uuid.uuid4().hex[:10]}"
        self.kafka = kafka
        self._tmp = tmp_path
        self._shared = {
            "STORAGE__BACKEND": "postgres", "STORAGE__POSTGRES_DSN": dsn, "STORAGE__POSTGRES_POOL_MAX": "4",
            "STORAGE__RETENTION_DAYS": NO_RETENTION, "BUS__BACKEND": "kafka", "BUS__KAFKA_BOOTSTRAP": kafka,
            "BUS__KAFKA_TOPIC_PREFIX": f"{self.tag}.", "BUS__GROUP_ID": self.tag,
            "BUS__KAFKA_PARTITIONS": str(PARTITIONS), "BUS__KAFKA_LINGER_MS": "5", "DEDUP__BACKEND": "redis",
            "DEDUP__REDIS_URL": redis, "DEDUP__REDIS_KEY_PREFIX": self.tag,
        }  # fmt: skip
        self._count = 0

    def config(self, enabled: str, **overrides: str) -> Config:
        self._count += 1
        folder = self._tmp / f"instance-{self._count}"
        folder.mkdir()
        return make_config(folder, PLUGINS__ENABLED=enabled, **self._shared, **overrides)

    def topic(self, name: str) -> str:
        return f"{self.tag}.{name}"

    def group(self, name: str) -> str:
        return f"{self.tag}.{name}"


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[Runtime]:
    """A started batch-mode runtime (no wall-clock behaviour, as `cryptoviz replay`)."""
    runtime = Runtime(config, select(config, discover()), live=False, drain_timeout=DEADLINE)
    await asyncio.wait_for(runtime.start(), DEADLINE)
    try:
        yield runtime
    finally:
        await runtime.stop()
    assert runtime.tasks.crashes == 0


def aggregator(deployment: Deployment) -> Config:
    return deployment.config('["candles"]', PLUGINS__CANDLES__STORE="false")


def persister(deployment: Deployment, **overrides: str) -> Config:
    enabled = '["trades", "candles", "indicators"]'
    return deployment.config(enabled, PLUGINS__CANDLES__AGGREGATE="false", **overrides)


def held(runtime: Runtime) -> set[int]:
    """Partitions of `crypto.raw.trades` the runtime's aggregator holds now."""
    consumer = runtime.instances["candles"].trades_subscription._consumer  # type: ignore[attr-defined]
    return set() if consumer is None else {tp.partition for tp in consumer.assignment()}


def partition_of(symbol: str) -> int:
    """Where the Kafka bus puts a symbol's messages: the producer's default partitioner on the key."""
    return int(DefaultPartitioner()(symbol.encode(), list(range(PARTITIONS)), list(range(PARTITIONS))))


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def stored_trades(dsn: str) -> int:
    return int((await query(dsn, "SELECT count(*) FROM trades"))[0][0])


async def settled(deployment: Deployment) -> bool:
    """Whether every group has committed everything on its topics: the raw trades stored and
    aggregated, then every candle published so far stored and turned into indicators."""
    groups = [
        ("trades", [TOPIC_RAW_TRADES]), ("candles", [TOPIC_RAW_TRADES]),
        ("candles-store", CANDLE_TOPICS), ("indicators", CANDLE_TOPICS),
    ]  # fmt: skip
    admin = AIOKafkaAdminClient(bootstrap_servers=deployment.kafka)
    consumer = AIOKafkaConsumer(bootstrap_servers=deployment.kafka)
    await admin.start()
    await consumer.start()
    try:
        for group, topics in groups:  # in pipeline order, so each later end offset is read later
            partitions = [TopicPartition(deployment.topic(t), p) for t in topics for p in range(PARTITIONS)]
            committed = await admin.list_consumer_group_offsets(
                deployment.group(group), partitions=partitions
            )
            ends = await consumer.end_offsets(partitions)
            if any(committed.get(tp) is None or committed[tp].offset < ends[tp] for tp in partitions):
                return False
        return True
    finally:
        await consumer.stop()
        await admin.close()


async def embedded_reference(testdata: Path, tmp_path: Path) -> tuple[Config, dict[str, list[Any]]]:
    folder = tmp_path / "embedded"
    folder.mkdir()
    config = make_config(folder, PLUGINS__ENABLED='["trades", "candles", "indicators"]')
    runtime = Runtime(config, replay_plugins(config, [str(testdata / RECORDING)], None), live=False)
    await runtime.start()
    try:
        await asyncio.wait_for(runtime.instances["replay"].done.wait(), DEADLINE)  # type: ignore[attr-defined]
    finally:
        await runtime.stop()
    return config, dump_sqlite(Path(config.storage.sqlite_path))


async def replay(deployment: Deployment, recording: Path, speed: float | None) -> Runtime:
    """The collector instance: the replay plugin and nothing else."""
    config = deployment.config("[]")
    runtime = Runtime(
        config, replay_plugins(config, [str(recording)], speed), live=False, drain_timeout=DEADLINE
    )
    await asyncio.wait_for(runtime.start(), DEADLINE)
    return runtime


async def finish(collector: Runtime, deployment: Deployment, dsn: str) -> None:
    try:
        await asyncio.wait_for(collector.instances["replay"].done.wait(), DEADLINE)  # type: ignore[attr-defined]
    finally:
        await collector.stop()
    await until(lambda: _all_stored(deployment, dsn), "the pipeline to settle")


async def _all_stored(deployment: Deployment, dsn: str) -> bool:
    return await stored_trades(dsn) == TRADES and await settled(deployment)


async def rest_candles(config: Config) -> dict[tuple[str, str], Any]:
    """What an API instance serves: every candle of every symbol and interval, as JSON."""
    served: dict[tuple[str, str], Any] = {}
    async with AsyncTestClient(create_app(config)) as client:
        for symbol in SYMBOLS:
            for interval in INTERVALS:
                response = await client.get(
                    f"/api/v1/crypto/{symbol}/data", params={"interval": interval, "start": 0, "limit": 1000}
                )
                assert response.status_code == 200, response.text
                served[(symbol, interval)] = response.json()["data"]
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
    return served


async def test_two_aggregators_share_the_symbols_and_the_tables_equal_the_embedded_run(
    testdata: Path, tmp_path: Path, kafka_bootstrap: str, redis_url: str, postgres_dsn: str
) -> None:
    assert len({partition_of(s) for s in SYMBOLS}) == 3  # so two aggregators both get work
    reference, expected = await embedded_reference(testdata, tmp_path)
    async with fresh_database(postgres_dsn) as dsn, AsyncExitStack() as stack:
        deployment = Deployment(tmp_path, kafka_bootstrap, redis_url, dsn)
        await stack.enter_async_context(running(persister(deployment)))
        first = await stack.enter_async_context(running(aggregator(deployment)))
        second = await stack.enter_async_context(running(aggregator(deployment)))

        async def split() -> bool:  # both joined, the six partitions shared between them
            a, b = held(first), held(second)
            return bool(a) and bool(b) and not a & b and a | b == set(range(PARTITIONS))

        await until(split, "both aggregators to hold partitions")
        collector = await replay(deployment, testdata / RECORDING, None)
        stack.push_async_callback(collector.stop)  # on a failure too (stopping twice is harmless)
        await finish(collector, deployment, dsn)

        owners: dict[str, list[int]] = {}
        for number, runtime in enumerate((first, second)):
            plugin: Any = runtime.instances["candles"]
            assert plugin.status()["takeovers"] == 1  # the first assignment only: no symbol moved
            for symbol in plugin.aggregator.symbols():
                owners.setdefault(symbol, []).append(number)
                assert partition_of(symbol) in held(runtime)
        assert owners == {"BTCUSDT": [owners["BTCUSDT"][0]], "DOTUSDT": [owners["DOTUSDT"][0]],
                          "ETHUSDT": [owners["ETHUSDT"][0]]}  # fmt: skip
        assert {n for (n,) in owners.values()} == {0, 1}  # each aggregated some symbols, none twice

        report = differences(await dump_postgres(dsn), expected)
        assert not report, "\n".join(report)
        api = deployment.config("[]")
        assert await rest_candles(api) == await rest_candles(_api_of(reference))


def _api_of(reference: Config) -> Config:
    folder = Path(reference.storage.sqlite_path).parent
    return make_config(folder, PLUGINS__ENABLED="[]", STORAGE__RETENTION_DAYS=NO_RETENTION)


@pytest.mark.parametrize("lagging", [False, True], ids=["persister-keeping-up", "persister-lagging"])
async def test_symbols_moving_between_aggregators_mid_replay_keep_exact_candles(
    lagging: bool, testdata: Path, tmp_path: Path, kafka_bootstrap: str, redis_url: str, postgres_dsn: str
) -> None:
    """The first aggregator holds every symbol; a second joins and takes some, then leaves
    and gives them back: the first resumes them from storage, not from its stale series.
    When `lagging`, the persister writes every 2.5 s, so at each move neither the trades nor
    the candles the previous owner handled are all stored yet: the new owner must wait for
    the trades before it restores."""
    _, expected = await embedded_reference(testdata, tmp_path)
    async with fresh_database(postgres_dsn) as dsn, AsyncExitStack() as stack:
        deployment = Deployment(tmp_path, kafka_bootstrap, redis_url, dsn)
        slow = {"STORAGE__FLUSH_MS": "2500", "STORAGE__BATCH_SIZE": "100000"} if lagging else {}
        await stack.enter_async_context(running(persister(deployment, **slow)))
        first = await stack.enter_async_context(running(aggregator(deployment)))
        await until(lambda: _holds_all(first), "the first aggregator to hold every partition")
        collector = await replay(deployment, testdata / RECORDING, 8.0)  # about 11 s of trades
        stack.push_async_callback(collector.stop)  # on a failure too (stopping twice is harmless)

        await until(lambda: _aggregates_all(first), "the first aggregator to aggregate every symbol")
        async with running(aggregator(deployment)) as second:
            await until(lambda: _aggregates_some(second), "a symbol to move to the second aggregator")
            await asyncio.sleep(0.5)  # let it aggregate a little
        assert not collector.instances["replay"].done.is_set(), (
            "the replay ended before the symbols came back"
        )  # type: ignore[attr-defined]
        await until(lambda: _holds_all(first), "the first aggregator to hold every partition again")
        await finish(collector, deployment, dsn)

        report = differences(await dump_postgres(dsn), expected)
        assert not report, "\n".join(report)
        assert first.instances["candles"].status()["takeovers"] >= 2  # it had all, shared, then all again


async def _holds_all(runtime: Runtime) -> bool:
    return held(runtime) == set(range(PARTITIONS))


async def _aggregates_all(runtime: Runtime) -> bool:
    return set(runtime.instances["candles"].aggregator.symbols()) == set(SYMBOLS)  # type: ignore[attr-defined]


async def _aggregates_some(runtime: Runtime) -> bool:
    return bool(runtime.instances["candles"].aggregator.symbols())  # type: ignore[attr-defined]


async def _stored_at_least(dsn: str, trades: int) -> bool:
    return await stored_trades(dsn) >= trades
