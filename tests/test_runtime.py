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
        return len(await storage.trades_after("AAA", -1, 100))
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
