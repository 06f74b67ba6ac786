"""SQLiteStorage: schema, idempotent writes, queries, retention, 24 h stats."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from cryptoviz.errors import StorageError
from cryptoviz.models import Candle, Trade
from cryptoviz.storage import schema
from cryptoviz.storage.sqlite import DAY_MS, SQLiteStorage

D = Decimal


def trade(trade_id: int, time: int, price: str = "10", qty: str = "1", symbol: str = "AAA") -> Trade:
    return Trade("x", symbol, trade_id, D(price), D(qty), time, False)


def candle(open_time: int, interval: str = "1m", close: str = "1", last_id: int = 1) -> Candle:
    c = D(close)
    return Candle("AAA", interval, open_time, c, c, c, c, D(1), 1, c, D(0), False, last_id)


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    store = SQLiteStorage(tmp_path / "db" / "test.db")
    await store.open()
    yield store
    await store.close()


async def test_schema_is_created_in_wal_mode_and_versioned(storage: SQLiteStorage) -> None:
    conn = sqlite3.connect(storage.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)


async def test_reopening_keeps_data_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    first = SQLiteStorage(path)
    await first.open()
    await first.insert_trades([trade(1, 1000)])
    await first.close()
    again = SQLiteStorage(path)
    await again.open()
    assert (await again.latest_trade("AAA")) == trade(1, 1000)
    await again.close()
    sqlite3.connect(path).execute("PRAGMA user_version = 99")
    with pytest.raises(StorageError, match="newer"):
        await SQLiteStorage(path).open()


async def test_trades_are_unique_and_the_count_of_new_ones_is_exact(storage: SQLiteStorage) -> None:
    assert await storage.insert_trades([trade(1, 1000), trade(2, 2000)]) == 2
    assert await storage.insert_trades([trade(2, 2000), trade(3, 3000)]) == 1
    assert [t.trade_id for t in await storage.trades_after("AAA", 0, 10)] == [1, 2, 3]
    assert await storage.last_trade_ids() == {("x", "AAA"): 3}


async def test_decimals_come_back_exactly(storage: SQLiteStorage) -> None:
    await storage.insert_trades([trade(1, 1000, "0.00000001", "123456789.12345678")])
    (t,) = await storage.trades_after("AAA", 0, 1)
    assert t.price == D("0.00000001")
    assert t.quantity == D("123456789.12345678")


async def test_candles_upsert_and_query_windows(storage: SQLiteStorage) -> None:
    await storage.upsert_candles([candle(t * 60_000) for t in range(10)])
    await storage.upsert_candles([candle(9 * 60_000, close="2")])
    latest = await storage.candles("AAA", "1m", start=None, end=None, limit=3)
    assert [c.open_time // 60_000 for c in latest] == [7, 8, 9]
    assert latest[-1].close == 2
    forward = await storage.candles("AAA", "1m", start=120_000, end=None, limit=2)
    assert [c.open_time // 60_000 for c in forward] == [2, 3]
    bounded = await storage.candles("AAA", "1m", start=None, end=300_000, limit=2)
    assert [c.open_time // 60_000 for c in bounded] == [4, 5]
    assert await storage.candles("AAA", "5s", start=None, end=None, limit=5) == []


async def test_symbols_track_first_and_last_trade(storage: SQLiteStorage) -> None:
    await storage.insert_trades([trade(2, 5000), trade(1, 1000), trade(1, 7000, symbol="BBB")])
    infos = {s.symbol: s for s in await storage.symbols()}
    assert (infos["AAA"].first_trade, infos["AAA"].last_trade) == (1000, 5000)
    assert infos["BBB"].exchange == "x"


async def test_retention_counts_back_from_the_newest_row(storage: SQLiteStorage) -> None:
    await storage.insert_trades([trade(i, i * DAY_MS) for i in range(10)])
    await storage.upsert_candles([candle(i * 1000, "1s") for i in range(100)])
    deleted = await storage.prune({"trades": 3.0, "1s": 50 / 86_400, "1m": 0.0})
    assert deleted == {"trades": 6, "1s": 49}
    assert [t.trade_id for t in await storage.trades_after("AAA", -1, 100)] == [6, 7, 8, 9]
    assert len(await storage.candles("AAA", "1s", start=0, end=None, limit=1000)) == 51


async def test_stats_24h_combine_candles_and_edge_trades_exactly(storage: SQLiteStorage) -> None:
    from cryptoviz.market.candles import CandleAggregator

    base = 10 * DAY_MS
    trades = [trade(1, base - 100, "50"), trade(2, base + 30_000, "100", "0.5")]
    trades += [trade(3 + i, base + 60_000 * i + 5, str(100 + i), "0.25") for i in range(1, 30)]
    last = trades[-1]
    trades.append(trade(40, last.time + DAY_MS - 61_000, "90", "2"))  # 24h window starts mid-minute
    await storage.insert_trades(trades)
    agg = CandleAggregator(["1m"])
    await storage.upsert_candles(agg.add(trades[:-1]))  # candles lag the newest trade
    stats = await storage.stats_24h("AAA")
    in_window = [t for t in trades if t.time >= trades[-1].time - DAY_MS]
    assert stats is not None
    assert stats.high_24h == max(t.price for t in in_window)
    assert stats.low_24h == min(t.price for t in in_window)
    assert stats.volume_24h == sum((t.quantity for t in in_window), D(0))
    first, final = in_window[0].price, in_window[-1].price
    assert stats.change_24h == pytest.approx(float((final - first) / first * 100))


async def test_closed_storage_reports_unavailable(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "c.db")
    await store.open()
    await store.close()
    with pytest.raises(StorageError):
        await store.ping()


async def test_large_batches_with_repeats_count_new_rows_exactly(storage: SQLiteStorage) -> None:
    """Batches go in as multi-row statements plus a remainder: both paths count exactly."""
    assert await storage.insert_trades([trade(i, i) for i in range(0, 130, 2)]) == 65
    assert await storage.insert_trades([trade(i, i) for i in range(123)]) == 123 - 62
    ids = [t.trade_id for t in await storage.trades_after("AAA", -1, 1000)]
    assert ids == [*range(123), *range(124, 130, 2)]


async def test_an_in_memory_database_is_refused_with_a_reason() -> None:
    with pytest.raises(StorageError, match="file path"):
        await SQLiteStorage(":memory:").open()
