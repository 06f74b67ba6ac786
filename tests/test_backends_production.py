"""On Kafka, PostgreSQL and Redis the pipeline stores exactly what the embedded run stores.

Recordings are replayed through trades, candles and indicators twice: embedded (SQLite,
memory bus and dedup) and on the production backends (Kafka with three partitions per
topic, PostgreSQL, Redis). The recorded news feeds are collected and stored the same two
ways. Every table (trades, symbols, candles of every interval, indicator points and series
states, news and its tags) must hold the same rows, decimals digit for digit and doubles
bit for bit. Replaying again on the production backends then stores nothing new.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from cryptoviz.config import Config
from cryptoviz.plugin import discover, select
from cryptoviz.replay.command import replay_plugins
from cryptoviz.runtime import Runtime
from tests.conftest import make_config
from tests.servers import production_overrides
from tests.storage.postgres_db import differences, dump_postgres, dump_sqlite, fresh_database

pytestmark = pytest.mark.slow
DEADLINE = 300.0
PLUGINS = '["trades", "candles", "indicators"]'
RECORDINGS = {
    "spot-3-symbols": ("binance/spot-BTC-ETH-DOT-2021-04-04.jsonl", 1_910),
    "usdm-btcusdt-gz": ("binance/usdm-btcusdt-20240808.recv.gz", 21_313),
}
NEWS_FEEDS = ("coindesk.rss", "cointelegraph.rss")


def embedded(folder: Path, **overrides: str) -> Config:
    folder.mkdir()
    return make_config(folder, **overrides)


def production(folder: Path, kafka: str, redis: str, dsn: str, tag: str, **overrides: str) -> Config:
    folder.mkdir()
    return make_config(folder, **production_overrides(kafka, redis, dsn, tag), **overrides)


async def replay(config: Config, recording: Path) -> dict[str, Any]:
    """What `cryptoviz replay` does, in this process: start, play the file, drain, stop."""
    runtime = Runtime(
        config, replay_plugins(config, [str(recording)], None), live=False, drain_timeout=DEADLINE
    )
    await asyncio.wait_for(runtime.start(), DEADLINE)
    try:
        await asyncio.wait_for(runtime.instances["replay"].done.wait(), DEADLINE)  # type: ignore[attr-defined]
    finally:
        await runtime.stop()
    assert runtime.tasks.crashes == 0
    return {name: instance.status() for name, instance in runtime.instances.items()}


@pytest.mark.parametrize("name", list(RECORDINGS))
async def test_replay_on_kafka_postgres_and_redis_equals_the_embedded_run(
    name: str, testdata: Path, tmp_path: Path, kafka_bootstrap: str, redis_url: str, postgres_dsn: str
) -> None:
    path, trades = RECORDINGS[name]
    recording = testdata / path
    tag = f"prod{uuid.uuid4().hex[:10]}"

    reference = embedded(tmp_path / "embedded", PLUGINS__ENABLED=PLUGINS)
    assert (await replay(reference, recording))["trades"]["stored"] == trades
    expected = dump_sqlite(Path(reference.storage.sqlite_path))
    assert {i for _, i, *_ in expected["candles"]} == {"1s", "5s", "1m", "15m", "1h", "4h", "1d"}
    assert expected["indicators"]
    assert expected["indicator_state"]

    async with fresh_database(postgres_dsn) as dsn:
        config = production(tmp_path / "prod", kafka_bootstrap, redis_url, dsn, tag, PLUGINS__ENABLED=PLUGINS)
        status = await replay(config, recording)
        assert (status["trades"]["stored"], status["trades"]["rejected"]) == (trades, 0)
        assert status["candles"]["rejected"] == status["indicators"]["rejected"] == 0
        got = await dump_postgres(dsn)
        report = differences(got, expected)
        assert not report, "\n".join(report)

        again = await replay(config, recording)  # same topics, groups, Redis keys and database
        assert (again["trades"]["stored"], again["trades"]["duplicates"]) == (0, trades)
        assert await dump_postgres(dsn) == got


async def collect_news(config: Config) -> dict[str, Any]:
    """Run the news plugin (collect and store) until each feed was read once, then stop,
    which stores everything published."""
    runtime = Runtime(config, select(config, discover()), drain_timeout=DEADLINE)
    await asyncio.wait_for(runtime.start(), DEADLINE)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while any(feed["polls"] == 0 for feed in runtime.instances["news"].status()["feeds"]):
            assert loop.time() < deadline, f"news not read: {runtime.instances['news'].status()}"
            await asyncio.sleep(0.05)
    finally:
        await runtime.stop()
    assert runtime.tasks.crashes == 0
    status: dict[str, Any] = runtime.instances["news"].status()
    return status


async def test_news_on_kafka_postgres_and_redis_equals_the_embedded_run(
    testdata: Path, tmp_path: Path, kafka_bootstrap: str, redis_url: str, postgres_dsn: str
) -> None:
    feeds = json.dumps([str(testdata / "news" / name) for name in NEWS_FEEDS])
    news = {
        "PLUGINS__ENABLED": '["news"]',
        "PLUGINS__NEWS__FEEDS": feeds,
        "PLUGINS__NEWS__POLL_SECONDS": "3600",
    }
    reference = embedded(tmp_path / "embedded", **news)
    first = await collect_news(reference)
    expected = dump_sqlite(Path(reference.storage.sqlite_path))
    stored = len(expected["news"])
    assert stored == first["stored"]
    assert stored > 50
    assert expected["news_symbols"]

    async with fresh_database(postgres_dsn) as dsn:
        tag = f"news{uuid.uuid4().hex[:10]}"
        config = production(tmp_path / "prod", kafka_bootstrap, redis_url, dsn, tag, **news)
        status = await collect_news(config)
        assert (status["stored"], status["rejected"], status["failing_feeds"]) == (stored, 0, [])
        report = differences(await dump_postgres(dsn), expected)
        assert not report, "\n".join(report)
