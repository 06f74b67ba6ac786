"""SQLite indicator store: exact doubles, paging, states saved with their points, retention."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from cryptoviz.errors import StorageError
from cryptoviz.models import IndicatorPoint, Trade
from cryptoviz.storage.base import SeriesState
from cryptoviz.storage.sqlite import DAY_MS, SQLiteStorage

MINUTE = 60_000


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    store = SQLiteStorage(tmp_path / "test.db")
    await store.open()
    yield store
    await store.close()


def rsi(ts: int, value: float, symbol: str = "AAA", interval: str = "1m") -> IndicatorPoint:
    return IndicatorPoint(symbol, interval, "rsi", ts, value)


def macd(ts: int) -> IndicatorPoint:
    return IndicatorPoint("AAA", "1m", "macd", ts, 1e-7 / 3, signal=-2.5e-300, histogram=0.1 + 0.2)


def rows(db: SQLiteStorage, table: str) -> int:
    with sqlite3.connect(db.path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_points_come_back_bit_for_bit_with_their_fields(storage: SQLiteStorage) -> None:
    points = [
        macd(0),
        IndicatorPoint("AAA", "1m", "bollinger", 0, 0.0014440235000000002, upper=0.0015, lower=5e-324),
        rsi(0, 100.0 / 3),
        IndicatorPoint("AAA", "1m", "momentum", 0, -0.0),
    ]
    await storage.indicators.upsert(points)
    for point in points:
        got = await storage.indicators.points("AAA", point.type, "1m", start=None, end=None, limit=10)
        assert got == [point]
    assert (await storage.indicators.points("AAA", "macd", "1m", start=None, end=None, limit=1))[
        0
    ].upper is None


async def test_latest_or_from_start_oldest_first_within_bounds(storage: SQLiteStorage) -> None:
    await storage.indicators.upsert([rsi(i * MINUTE, float(i)) for i in range(10)])
    await storage.indicators.upsert([rsi(0, 5.0, symbol="BBB"), rsi(0, 5.0, interval="1h")])

    async def ts(start: int | None, end: int | None, limit: int) -> list[int]:
        got = await storage.indicators.points("AAA", "rsi", "1m", start=start, end=end, limit=limit)
        return [p.ts // MINUTE for p in got]

    assert await ts(None, None, 3) == [7, 8, 9]
    assert await ts(2 * MINUTE, None, 3) == [2, 3, 4]
    assert await ts(None, 4 * MINUTE, 2) == [3, 4]
    assert await ts(3 * MINUTE, 5 * MINUTE, 100) == [3, 4, 5]
    assert await ts(None, None, 100) == list(range(10))
    assert await storage.indicators.points("AAA", "macd", "1m", start=None, end=None, limit=5) == []


async def test_a_point_is_replaced_by_its_key_and_leaves_the_other_types(storage: SQLiteStorage) -> None:
    await storage.indicators.upsert([rsi(0, 1.0), rsi(MINUTE, 2.0), macd(MINUTE)])
    await storage.indicators.upsert([rsi(MINUTE, 3.0), rsi(2 * MINUTE, 4.0), rsi(2 * MINUTE, 5.0)])
    got = await storage.indicators.points("AAA", "rsi", "1m", start=0, end=None, limit=10)
    assert [(p.ts, p.value) for p in got] == [(0, 1.0), (MINUTE, 3.0), (2 * MINUTE, 5.0)]
    assert await storage.indicators.points("AAA", "macd", "1m", start=0, end=None, limit=10) == [macd(MINUTE)]


async def test_many_candles_in_one_save(storage: SQLiteStorage) -> None:
    """More rows than one statement holds, each with two types."""
    points = [p for i in range(97) for p in (rsi(i * MINUTE, i / 7), macd(i * MINUTE))]
    await storage.indicators.save(points, [])
    assert await storage.indicators.points("AAA", "rsi", "1m", start=0, end=None, limit=1000) == points[::2]
    got = await storage.indicators.points("AAA", "macd", "1m", start=0, end=None, limit=1000)
    assert [p.ts for p in got] == [i * MINUTE for i in range(97)]
    assert rows(storage, "indicators") == 97


async def test_states_are_saved_with_points_and_replaced_per_series(storage: SQLiteStorage) -> None:
    await storage.indicators.save([rsi(0, 1.0)], [SeriesState("AAA", "1m", 0, b"\x00one")])
    await storage.indicators.save(
        [rsi(MINUTE, 2.0)],
        [SeriesState("AAA", "1m", MINUTE, b"two"), SeriesState("AAA", "1h", 0, b"hour")],
    )
    assert await storage.indicators.states() == [
        SeriesState("AAA", "1h", 0, b"hour"),
        SeriesState("AAA", "1m", MINUTE, b"two"),
    ]
    assert rows(storage, "indicators") == 2


async def test_a_failed_save_stores_neither_points_nor_state(storage: SQLiteStorage) -> None:
    await storage.indicators.save([rsi(0, 1.0)], [SeriesState("AAA", "1m", 0, b"first")])
    broken = SeriesState("AAA", "1h", MINUTE, None)  # type: ignore[arg-type]  # NOT NULL refuses it
    with pytest.raises(StorageError):
        await storage.indicators.save(
            [rsi(MINUTE, 2.0)], [SeriesState("AAA", "1m", MINUTE, b"second"), broken]
        )
    assert await storage.indicators.states() == [SeriesState("AAA", "1m", 0, b"first")]
    assert [
        p.ts for p in await storage.indicators.points("AAA", "rsi", "1m", start=0, end=None, limit=9)
    ] == [0]


async def test_nothing_to_save_writes_nothing(storage: SQLiteStorage) -> None:
    await storage.indicators.save([], [])
    assert rows(storage, "indicators") == rows(storage, "indicator_state") == 0


async def test_prune_keeps_each_interval_as_long_as_its_retention(storage: SQLiteStorage) -> None:
    await storage.insert_trades([Trade("x", "AAA", 1, Decimal(1), Decimal(1), 0, False)])
    day = [rsi(h * 3_600_000, 1.0, interval="1h") for h in range(72)]  # three days
    minutes = [rsi(i * MINUTE, 1.0) for i in range(5)]
    await storage.indicators.upsert(
        [*day, *minutes, IndicatorPoint("AAA", "1h", "macd", 0, 1.0, signal=1.0, histogram=0.0)]
    )
    deleted = await storage.indicators.prune({"1h": 1.0, "1m": 0.0, "trades": 1.0})
    assert deleted == {"1h": 47}  # candles of 0 h to 46 h: kept from 71 h - 24 h on
    kept = await storage.indicators.points("AAA", "rsi", "1h", start=0, end=None, limit=100)
    assert kept[0].ts == 71 * 3_600_000 - DAY_MS
    assert len(await storage.indicators.points("AAA", "rsi", "1m", start=0, end=None, limit=100)) == 5
    assert await storage.indicators.points("AAA", "macd", "1h", start=0, end=None, limit=100) == []
