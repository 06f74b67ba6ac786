"""The pipeline on Kafka and Redis gives exactly what the embedded run gives.

A recording is replayed twice into fresh SQLite databases: once embedded (memory bus and
dedup), once on the Kafka bus (three partitions per topic) with the Redis dedup. Trades,
symbols and every candle column must be equal. Replaying it again on Kafka and Redis
then stores nothing new: Redis reports every trade as seen.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from cryptoviz.config import Config
from cryptoviz.replay.command import replay_plugins
from cryptoviz.runtime import Runtime
from tests.conftest import make_config
from tests.servers import kafka_redis_overrides

pytestmark = pytest.mark.slow
DEADLINE = 300.0
TABLES = {
    "candles": "symbol, interval, open_time",
    "trades": "exchange, symbol, trade_id",
    "symbols": "exchange, symbol",
}
RECORDINGS = {
    "spot-3-symbols": ("binance/spot-BTC-ETH-DOT-2021-04-04.jsonl", 1_910),
    "usdm-btcusdt-gz": ("binance/usdm-btcusdt-20240808.recv.gz", 21_313),
}


def embedded(folder: Path) -> Config:
    folder.mkdir()
    return make_config(folder, PLUGINS__ENABLED='["trades", "candles"]')


def scaled_out(folder: Path, kafka: str, redis: str, tag: str) -> Config:
    folder.mkdir()
    return make_config(
        folder, PLUGINS__ENABLED='["trades", "candles"]', **kafka_redis_overrides(kafka, redis, tag)
    )


async def replay(config: Config, recording: Path) -> dict[str, Any]:
    """What `cryptoviz replay` does, in this process: start, play the file, drain, stop."""
    runtime = Runtime(
        config, replay_plugins(config, [str(recording)], None), live=False, drain_timeout=DEADLINE
    )
    await asyncio.wait_for(runtime.start(), DEADLINE)
    try:
        await asyncio.wait_for(runtime.instances["replay"].done.wait(), DEADLINE)
    finally:
        await runtime.stop()
    assert runtime.tasks.crashes == 0
    status: dict[str, Any] = runtime.instances["trades"].status()
    return status


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY {key}").fetchall() for t, key in TABLES.items()}


@pytest.mark.parametrize("name", list(RECORDINGS))
async def test_replay_on_kafka_and_redis_equals_the_embedded_run(
    name: str, testdata: Path, tmp_path: Path, kafka_bootstrap: str, redis_url: str
) -> None:
    path, trades = RECORDINGS[name]
    recording = testdata / path
    tag = f"pipe{uuid.uuid4().hex[:10]}"

    reference = embedded(tmp_path / "embedded")
    assert (await replay(reference, recording))["stored"] == trades

    config = scaled_out(tmp_path / "kafka", kafka_bootstrap, redis_url, tag)
    status = await replay(config, recording)
    assert status["stored"] == trades
    assert status["rejected"] == 0

    expected, got = dump(Path(reference.storage.sqlite_path)), dump(Path(config.storage.sqlite_path))
    assert len(got["trades"]) == trades
    assert len(got["candles"]) > 0
    for table in TABLES:
        assert got[table] == expected[table], f"{table} differ between the embedded and the Kafka run"

    again = await replay(config, recording)  # same topics, groups and Redis keys
    assert again["stored"] == 0
    assert again["duplicates"] == trades
    assert dump(Path(config.storage.sqlite_path)) == got
