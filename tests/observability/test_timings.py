"""Batch write latencies: the histogram's arithmetic, and both storages filling it per kind."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cryptoviz.errors import StorageError
from cryptoviz.models import Candle, Trade
from cryptoviz.observability.timings import WriteTimings
from cryptoviz.storage.sqlite import SQLiteStorage
from tests.storage.postgres_db import open_storage


def trade(trade_id: int, symbol: str = "AAA") -> Trade:
    return Trade(
        "binance", symbol, trade_id, Decimal("10.5"), Decimal("1"), 1_700_000_000_000 + trade_id, False
    )


def candle() -> Candle:
    one = Decimal("1")
    return Candle("AAA", "1m", 1_700_000_000_000, one, one, one, one, one, 1, one, one, True, 1)


def test_buckets_are_cumulative_and_bounds_inclusive() -> None:
    timings = WriteTimings((0.01, 0.1))
    for seconds in (0.005, 0.01, 0.05, 3.0):
        timings.observe("trade insert", seconds)
    assert timings.cumulative("trade insert") == [("0.01", 2), ("0.1", 3), ("+Inf", 4)]
    assert timings.kinds["trade insert"].count == 4
    assert timings.kinds["trade insert"].sum == pytest.approx(3.065)
    assert list(timings.kinds) == ["trade insert"]


async def test_sqlite_times_each_committed_write_by_kind(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "t.db")
    await storage.open()
    try:
        assert await storage.insert_trades([trade(1), trade(2)]) == 2
        assert await storage.insert_trades([trade(3)]) == 1
        await storage.upsert_candles([candle()])
        assert await storage.prune({"trades": 1.0}) == {"trades": 0}
        with pytest.raises(StorageError):  # refused: not a committed write, not timed
            await storage.transaction([("INSERT INTO nowhere VALUES (?)", [(1,)])], "broken")
    finally:
        await storage.close()
    kinds = storage.write_timings.kinds
    assert {k: h.count for k, h in kinds.items()} == {"trade insert": 2, "candle upsert": 1, "retention": 1}
    assert all(h.sum > 0 for h in kinds.values())


async def test_postgres_times_each_committed_write_by_kind(postgres_dsn: str) -> None:
    async with open_storage(postgres_dsn) as storage:
        await storage.insert_trades([trade(1), trade(2)])
        await storage.upsert_candles([candle()])
        with pytest.raises(StorageError):
            async with storage.pool.transaction("broken") as conn:
                await conn.execute("INSERT INTO nowhere VALUES (1)")
        kinds = storage.write_timings.kinds
        assert {k: kinds[k].count for k in ("trade insert", "candle upsert")} == {
            "trade insert": 1,
            "candle upsert": 1,
        }
        assert "broken" not in kinds
        assert kinds["trade insert"].sum > 0
