"""Runtime: start/stop order, readiness, retention only in live runs."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from cryptoviz.models import Trade
from cryptoviz.plugin import discover, select
from cryptoviz.runtime import Runtime
from cryptoviz.storage.sqlite import DAY_MS, SQLiteStorage
from tests.conftest import make_config


async def _seed(path: Path) -> None:
    storage = SQLiteStorage(path)
    await storage.open()
    await storage.insert_trades(
        [Trade("x", "AAA", i, Decimal(1), Decimal(1), i * DAY_MS, False) for i in range(10)]
    )
    await storage.close()


async def _count(path: Path) -> int:
    storage = SQLiteStorage(path)
    await storage.open()
    try:
        return len(await storage.trades_after("AAA", -1, 100_000))
    finally:
        await storage.close()


async def test_live_runtime_applies_retention_and_batch_runs_do_not(tmp_path: Path) -> None:
    config = make_config(tmp_path, PLUGINS__ENABLED='["trades"]', STORAGE__RETENTION_DAYS="{ trades = 2.0 }")
    await _seed(tmp_path / "test.db")
    batch = Runtime(config, select(config, discover()), live=False)
    await batch.start()
    await asyncio.sleep(0.05)
    await batch.stop()
    assert await _count(tmp_path / "test.db") == 10
    live = Runtime(config, select(config, discover()))
    await live.start()
    for _ in range(200):
        if live.last_prune:
            break
        await asyncio.sleep(0.01)
    await live.stop()
    assert live.last_prune["trades"] == 7
    assert await _count(tmp_path / "test.db") == 3


async def test_readiness_names_every_part_and_fails_when_stopped(tmp_path: Path) -> None:
    config = make_config(tmp_path, PLUGINS__ENABLED='["trades", "candles"]')
    runtime = Runtime(config, select(config, discover()))
    await runtime.start()
    ok, details = await runtime.readiness()
    assert ok
    assert set(details) == {"storage", "dedup", "bus", "plugins"}
    assert set(details["plugins"]) == {"trades", "candles"}
    await runtime.stop()
    ok, details = await runtime.readiness()
    assert not ok
    assert details["storage"]["ok"] is False


async def test_stop_flushes_what_handlers_hold(tmp_path: Path) -> None:
    config = make_config(tmp_path, PLUGINS__ENABLED='["trades", "candles"]', STORAGE__FLUSH_MS="60000")
    runtime = Runtime(config, select(config, discover()))
    await runtime.start()
    trades = [Trade("x", "AAA", i, Decimal(i), Decimal(1), 1000 + i, False) for i in range(1, 51)]
    await runtime.bus.publish("crypto.raw.trades", trades)
    await runtime.stop()  # flush_ms is a minute: only the graceful stop can have written them
    assert await _count(tmp_path / "test.db") == 50


async def test_writes_wait_out_a_locked_database_and_lose_nothing(tmp_path: Path) -> None:
    """Another process holds the write lock for a while: batches are retried with backoff,
    the bus pushes back, and every trade is stored once the lock is released."""
    import sqlite3

    config = make_config(tmp_path, PLUGINS__ENABLED='["trades", "candles"]')
    runtime = Runtime(config, select(config, discover()))
    await runtime.start()
    storage = runtime.storage
    assert isinstance(storage, SQLiteStorage)
    blocker = sqlite3.connect(tmp_path / "test.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    await storage._w.execute("PRAGMA busy_timeout = 50")  # fail fast while locked
    trades = [Trade("x", "AAA", i, Decimal(i), Decimal(1), 1000 + i, False) for i in range(1, 3001)]
    publisher = asyncio.create_task(runtime.bus.publish("crypto.raw.trades", trades))
    await asyncio.sleep(1.0)
    blocker.execute("COMMIT")
    blocker.close()
    await asyncio.wait_for(publisher, 30)
    await asyncio.wait_for(runtime.bus.drain(), 30)
    await runtime.stop()
    assert await _count(tmp_path / "test.db") == 3000


async def test_a_row_the_storage_refuses_is_set_aside_and_the_rest_flow_on(tmp_path: Path) -> None:
    config = make_config(tmp_path, PLUGINS__ENABLED='["trades"]')
    runtime = Runtime(config, select(config, discover()))
    await runtime.start()
    bad = Trade("x", "AAA", 2**63 + 5, Decimal(1), Decimal(1), 1_000, False)  # beyond SQLite INTEGER
    good = [Trade("x", "AAA", i, Decimal(1), Decimal(1), 1_000 + i, False) for i in range(1, 100)]
    await runtime.bus.publish("crypto.raw.trades", [*good[:50], bad, *good[50:]])
    await asyncio.wait_for(runtime.bus.drain(), 10)
    status = runtime.instances["trades"].status()
    await runtime.stop()
    assert (status["stored"], status["rejected"], status["duplicates"]) == (99, 1, 0)
    assert await _count(tmp_path / "test.db") == 99
