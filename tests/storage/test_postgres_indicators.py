"""PostgreSQL indicator store: SQLite's indicator tests run unchanged, plus those that count rows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cryptoviz.errors import StorageError
from cryptoviz.storage.base import SeriesState
from cryptoviz.storage.postgres import PostgresStorage
from tests.storage import test_sqlite_indicators
from tests.storage.postgres_db import count, open_storage, shared_tests
from tests.storage.test_sqlite_indicators import MINUTE, macd, rsi

SQLITE_ONLY = {
    "test_many_candles_in_one_save",  # counts rows in the SQLite file: below
    "test_states_are_saved_with_points_and_replaced_per_series",  # likewise
    "test_nothing_to_save_writes_nothing",  # likewise
}
globals().update(shared_tests(test_sqlite_indicators, SQLITE_ONLY))


@pytest.fixture
async def storage(postgres_dsn: str) -> AsyncIterator[PostgresStorage]:
    async with open_storage(postgres_dsn) as store:
        yield store


async def rows(storage: PostgresStorage, table: str) -> int:
    return await count(storage.pool.dsn, table)


async def test_many_candles_in_one_save(storage: PostgresStorage) -> None:
    points = [p for i in range(97) for p in (rsi(i * MINUTE, i / 7), macd(i * MINUTE))]
    await storage.indicators.save(points, [])
    assert await storage.indicators.points("AAA", "rsi", "1m", start=0, end=None, limit=1000) == points[::2]
    got = await storage.indicators.points("AAA", "macd", "1m", start=0, end=None, limit=1000)
    assert [p.ts for p in got] == [i * MINUTE for i in range(97)]
    assert await rows(storage, "indicators") == 97


async def test_states_are_saved_with_points_and_replaced_per_series(storage: PostgresStorage) -> None:
    await storage.indicators.save([rsi(0, 1.0)], [SeriesState("AAA", "1m", 0, b"\x00one")])
    await storage.indicators.save(
        [rsi(MINUTE, 2.0)],
        [SeriesState("AAA", "1m", MINUTE, b"two"), SeriesState("AAA", "1h", 0, b"hour")],
    )
    assert await storage.indicators.states() == [
        SeriesState("AAA", "1h", 0, b"hour"),
        SeriesState("AAA", "1m", MINUTE, b"two"),
    ]
    assert await rows(storage, "indicators") == 2


async def test_a_series_saved_twice_in_one_call_keeps_its_last_state(storage: PostgresStorage) -> None:
    await storage.indicators.save(
        [], [SeriesState("AAA", "1m", 0, b"first"), SeriesState("AAA", "1m", MINUTE, b"\x00\xffsecond")]
    )
    assert await storage.indicators.states() == [SeriesState("AAA", "1m", MINUTE, b"\x00\xffsecond")]


async def test_nothing_to_save_writes_nothing(storage: PostgresStorage) -> None:
    await storage.indicators.save([], [])
    assert await rows(storage, "indicators") == await rows(storage, "indicator_state") == 0


async def test_a_refused_state_is_an_error_retrying_cannot_fix(storage: PostgresStorage) -> None:
    broken = SeriesState("AAA", "1h", MINUTE, None)  # type: ignore[arg-type]  # NOT NULL refuses it
    with pytest.raises(StorageError) as refused:
        await storage.indicators.save([rsi(MINUTE, 2.0)], [broken])
    assert not refused.value.retriable
    assert await rows(storage, "indicators") == 0
