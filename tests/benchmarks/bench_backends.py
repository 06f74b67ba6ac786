"""Benchmark: the same replay embedded (memory bus and dedup, SQLite) and on the production
backends (Kafka -> aggregator -> PostgreSQL, Redis dedup), side by side.

Starts its own PostgreSQL, Redis and Kafka on loopback ports, as the tests do (installing
them if needed). Each run gets a fresh database, topic prefix, consumer groups and dedup
prefix, so no run sees another's data. Trades per second are end to end: parse, publish,
consume, dedup, store trades, aggregate, store candles, drain (every group committed).
Run with `make bench-backends`; not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from cryptoviz.config import Config
from cryptoviz.replay.command import _replay, replay_plugins
from tests.benchmarks.bench_replay import PIPELINE, RECORDING
from tests.conftest import make_config
from tests.servers import KafkaServer, PostgresServer, RedisServer, launch, production_overrides
from tests.storage.postgres_db import fresh_database

EMBEDDED = "embedded (SQLite, memory bus and dedup)"


def embedded(folder: Path) -> Config:
    return make_config(folder, LOG__LEVEL="warning", PLUGINS__ENABLED=PIPELINE, STORAGE__FLUSH_MS="200")


def production(folder: Path, kafka: str, redis: str, dsn: str, partitions: int) -> Config:
    tag = f"bench{uuid.uuid4().hex[:8]}"
    overrides = production_overrides(kafka, redis, dsn, tag, partitions=partitions)
    return make_config(
        folder, LOG__LEVEL="warning", PLUGINS__ENABLED=PIPELINE, STORAGE__FLUSH_MS="200", **overrides
    )


async def timed(config: Config) -> float:
    """Trades per second of one replay of the recording."""
    plugins = replay_plugins(config, [str(RECORDING)], speed=0.0)
    started = time.perf_counter()
    summary = await _replay(config, plugins, None)
    seconds = time.perf_counter() - started
    ingested = int(summary["ingested"])
    if ingested != summary["trades"]:
        raise RuntimeError(f"stored {ingested} of {summary['trades']} trades")
    return ingested / seconds


async def bench(runs: int, partitions: int, folder: Path) -> None:
    servers = folder / "servers"
    servers.mkdir()
    postgres = launch(PostgresServer, "postgres", servers)
    redis = launch(RedisServer, "redis", servers)
    kafka = launch(KafkaServer, "kafka", servers)
    label = f"Kafka ({partitions} partitions) -> PostgreSQL, Redis dedup"
    results: dict[str, list[float]] = {EMBEDDED: [], label: []}
    try:
        for run in range(runs):
            rate = await timed(embedded(Path(tempfile.mkdtemp(dir=folder))))
            results[EMBEDDED].append(rate)
            async with fresh_database(postgres.dsn) as dsn:
                run_folder = Path(tempfile.mkdtemp(dir=folder))
                config = production(run_folder, kafka.bootstrap, redis.url, dsn, partitions)
                results[label].append(await timed(config))
            latest = ", ".join(f"{rates[-1]:,.0f}" for rates in results.values())
            print(f"run {run + 1}: {latest}", flush=True)
    finally:
        for server in (kafka, redis, postgres):
            server.stop()
    print(f"\n{RECORDING.name}, handlers {PIPELINE}, {runs} runs each, trades/s")
    print("| path | median | best |\n|---|---|---|")
    for name, rates in results.items():
        rates.sort()
        print(f"| {name} | {rates[len(rates) // 2]:,.0f} | {rates[-1]:,.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    if not RECORDING.exists():
        print(f"recording not found: {RECORDING} (set CRYPTOVIZ_TESTDATA)", file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="cryptoviz-bench-"))
    folder.chmod(0o755)  # the postgres user must reach its data folder below
    try:
        asyncio.run(bench(args.runs, args.partitions, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
