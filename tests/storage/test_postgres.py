"""PostgresStorage: SQLite's behaviour tests, run unchanged against PostgreSQL, and what only
PostgreSQL has (migrations shared by instances, NUMERIC exactness, error kinds, several
writers at once, the candle version guard, TimescaleDB detection)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal, localcontext

import msgspec
import pytest

from cryptoviz.errors import StorageError, StorageUnavailable
from cryptoviz.market.candles import EXACT as EXACT_CONTEXT
from cryptoviz.models import INTERVALS, Candle, Trade
from cryptoviz.storage import postgres_schema
from cryptoviz.storage.postgres import PostgresStorage
from tests.storage import test_sqlite
from tests.storage.postgres_db import count, database_dsn, fresh_database, open_storage, query, shared_tests
from tests.storage.test_sqlite import candle, trade

D = Decimal
SQLITE_ONLY = {
    "test_schema_is_created_in_wal_mode_and_versioned",  # below: versioned, migrated once
    "test_reopening_keeps_data_and_a_newer_schema_is_refused",  # below, on a DSN
    "test_closed_storage_reports_unavailable",  # below
    "test_an_in_memory_database_is_refused_with_a_reason",  # no such thing here
}
globals().update(shared_tests(test_sqlite, SQLITE_ONLY))


@pytest.fixture
async def storage(postgres_dsn: str) -> AsyncIterator[PostgresStorage]:
    async with open_storage(postgres_dsn) as store:
        yield store


async def test_instances_starting_together_migrate_the_schema_once(postgres_dsn: str) -> None:
    async with fresh_database(postgres_dsn) as dsn:
        stores = [PostgresStorage(dsn) for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            versions = await query(dsn, "SELECT version FROM cryptoviz_migrations ORDER BY version")
            assert versions == [(n,) for n in range(1, len(postgres_schema.MIGRATIONS) + 1)]
            assert await stores[0].insert_trades([trade(1, 1000)]) == 1
            assert await stores[3].insert_trades([trade(1, 1000)]) == 0
        finally:
            await asyncio.gather(*(s.close() for s in stores))


async def test_reopening_keeps_data_and_a_newer_schema_is_refused(postgres_dsn: str) -> None:
    async with fresh_database(postgres_dsn) as dsn:
        first = PostgresStorage(dsn)
        await first.open()
        await first.insert_trades([trade(1, 1000)])
        await first.close()
        again = PostgresStorage(dsn)
        await again.open()
        assert (await again.latest_trade("AAA")) == trade(1, 1000)
        await again.close()
        await query(dsn, "INSERT INTO cryptoviz_migrations (version) VALUES (99)")
        newer = PostgresStorage(dsn)
        with pytest.raises(StorageError, match="newer") as refused:
            await newer.open()
        assert not refused.value.retriable
        with pytest.raises(StorageUnavailable):
            await newer.ping()  # closed again after the refusal


EXACT = ["62000.00000000", "0.00000001", "1.10", "0E-8", "123456789.12345678", "100", "7",
         "0.000000000000000000000000000001", "123456789012345678901234567890.123456789"]  # fmt: skip


async def test_decimals_keep_their_digits_and_scale(storage: PostgresStorage) -> None:
    """NUMERIC without a declared scale keeps each value's own scale, trailing zeros too."""
    trades = [trade(i, i, price, EXACT[-1 - i]) for i, price in enumerate(EXACT)]
    await storage.insert_trades(trades)
    back = await storage.trades_after("AAA", -1, 100)
    assert [(str(t.price), str(t.quantity)) for t in back] == [
        (str(t.price), str(t.quantity)) for t in trades
    ]
    with localcontext(EXACT_CONTEXT):
        candles = [
            Candle("AAA", "1m", i * 60_000, D(p), D(p), D("0E-8"), D(p), D("1.50"), 3, D(p) * D("1.50"),
                   D("0.000"), True, i)
            for i, p in enumerate(EXACT)
        ]  # fmt: skip
    await storage.upsert_candles(candles)
    stored = await storage.candles("AAA", "1m", start=0, end=None, limit=100)
    assert [msgspec.to_builtins(c) for c in stored] == [msgspec.to_builtins(c) for c in candles]


async def test_only_a_positive_exponent_or_negative_zero_is_written_out(storage: PostgresStorage) -> None:
    """NUMERIC has no positive scale nor -0: equal values, spelled as PostgreSQL prints them.
    Exchanges and the aggregator never produce either."""
    await storage.insert_trades([trade(1, 1, "1E+2", "-0")])
    (back,) = await storage.trades_after("AAA", 0, 1)
    assert (str(back.price), str(back.quantity)) == ("100", "0")
    assert (back.price, back.quantity) == (D("1E+2"), D("-0"))


async def test_closed_storage_reports_unavailable(postgres_dsn: str) -> None:
    async with open_storage(postgres_dsn) as store:
        await store.ping()
    with pytest.raises(StorageUnavailable):
        await store.ping()
    with pytest.raises(StorageUnavailable):
        await store.insert_trades([trade(1, 1)])


async def test_a_missing_database_is_refused_at_once_and_the_password_never_shown(postgres_dsn: str) -> None:
    dsn = database_dsn(postgres_dsn, "no_such_database").replace("postgres@", "postgres:s3cret@")
    store = PostgresStorage(dsn)
    with pytest.raises(StorageError) as refused:
        await asyncio.wait_for(store.open(), 30)
    assert not refused.value.retriable
    assert "no_such_database" in str(refused.value)
    assert "s3cret" not in str(refused.value)


async def test_a_value_the_schema_refuses_is_an_error_retrying_cannot_fix(storage: PostgresStorage) -> None:
    with pytest.raises(StorageError) as refused:
        await storage.insert_trades([trade(2**63, 1)])  # beyond bigint
    assert not refused.value.retriable
    assert await storage.insert_trades([trade(1, 1)]) == 1  # the pool is fine afterwards


async def test_repeats_within_one_batch(storage: PostgresStorage) -> None:
    """One array statement per batch: a trade twice in it counts once, and of a candle
    given twice the last one is stored, as row-by-row statements would do."""
    assert await storage.insert_trades([trade(1, 1), trade(1, 1), trade(2, 2), trade(1, 1)]) == 2
    await storage.upsert_candles([candle(0, close="1", last_id=1), candle(0, close="2", last_id=1)])
    (stored,) = await storage.candles("AAA", "1m", start=0, end=None, limit=10)
    assert stored.close == D(2)


async def test_an_older_version_of_a_candle_never_replaces_a_newer_one(storage: PostgresStorage) -> None:
    """With several instances a late write of an older version must not undo a newer one:
    versions are ordered by the newest trade counted, then closed after forming."""
    newer = candle(0, close="3", last_id=30)
    await storage.upsert_candles([newer])
    await storage.upsert_candles([candle(0, close="2", last_id=20)])
    assert (await storage.candles("AAA", "1m", start=0, end=None, limit=1)) == [newer]
    closed = msgspec.structs.replace(newer, closed=True)
    await storage.upsert_candles([closed])
    await storage.upsert_candles([newer])  # the forming version of the same trades comes late
    assert (await storage.candles("AAA", "1m", start=0, end=None, limit=1)) == [closed]
    amended = msgspec.structs.replace(closed, close=D(4), last_trade_id=31)
    await storage.upsert_candles([amended])
    assert (await storage.candles("AAA", "1m", start=0, end=None, limit=1)) == [amended]


async def test_latest_candles_are_the_newest_of_each_interval_in_interval_order(
    storage: PostgresStorage,
) -> None:
    await storage.upsert_candles(
        [candle(t, interval) for interval in reversed(INTERVALS) for t in (0, INTERVALS[interval])]
    )
    latest = await storage.latest_candles("AAA")
    assert [(c.interval, c.open_time) for c in latest] == [(i, n) for i, n in INTERVALS.items()]
    assert await storage.latest_candles("BBB") == []


async def test_last_trade_ids_per_exchange(storage: PostgresStorage) -> None:
    other = Trade("y", "AAA", 99, D(1), D(1), 5, True)
    await storage.insert_trades([trade(3, 1), trade(7, 2), other, trade(1, 1, symbol="BBB")])
    assert await storage.last_trade_ids() == {("x", "AAA"): 7, ("y", "AAA"): 99, ("x", "BBB"): 1}


async def test_writers_of_overlapping_batches_store_each_trade_once(postgres_dsn: str) -> None:
    """Four instances write overlapping batches at once: no deadlock, and the counts of new
    rows add up to the trades stored."""
    async with fresh_database(postgres_dsn) as dsn:
        stores = [PostgresStorage(dsn, pool_max=2) for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            batches = [
                [trade(i, i, symbol=symbol) for i in range(start, start + 600) for symbol in ("AAA", "BBB")]
                for start in (0, 200, 400, 100, 300, 500, 0, 250)
            ]
            new = await asyncio.gather(*(stores[n % 4].insert_trades(b) for n, b in enumerate(batches)))
            assert sum(new) == 2 * 1100 == await count(dsn, "trades")
            infos = await stores[0].symbols()
            assert [(s.symbol, s.first_trade, s.last_trade) for s in infos] == [
                ("AAA", 0, 1099),
                ("BBB", 0, 1099),
            ]
        finally:
            await asyncio.gather(*(s.close() for s in stores))


async def test_plain_postgresql_keeps_plain_tables(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """TimescaleDB is not packaged for Debian: the check finds no extension and says so."""
    assert await query(postgres_dsn, postgres_schema.TIMESCALE_AVAILABLE) == [(False,)]
    with caplog.at_level(logging.INFO, logger="cryptoviz.storage.postgres"):
        async with open_storage(postgres_dsn) as store:
            assert store.timescaledb is False
            assert await store.insert_trades([trade(1, 1)]) == 1
    assert "TimescaleDB is not available" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cryptoviz.storage.postgres"):
        async with open_storage(postgres_dsn, timescaledb=False) as store:
            assert store.timescaledb is False
    assert "TimescaleDB" not in caplog.text
