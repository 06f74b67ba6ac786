"""Fresh PostgreSQL databases on the test server: one per test, dropped afterwards.

The server fixture's DSN is the superuser on database `postgres`; each test gets a
database of its own, so tests never see each other's rows.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import msgspec

from cryptoviz.storage.postgres import PostgresStorage


def database_dsn(server_dsn: str, name: str) -> str:
    return server_dsn.rsplit("/", 1)[0] + "/" + name


@asynccontextmanager
async def fresh_database(server_dsn: str) -> AsyncIterator[str]:
    """The DSN of a new empty database, dropped (connections and all) on exit."""
    name = f"t_{uuid.uuid4().hex[:16]}"  # generated here: safe to inline as an identifier
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield database_dsn(server_dsn, name)
    finally:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def query(dsn: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of one query on its own connection, as tuples."""
    conn = await asyncpg.connect(dsn)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def count(dsn: str, table: str) -> int:
    return int((await query(dsn, f"SELECT count(*) FROM {table}"))[0][0])


@asynccontextmanager
async def open_storage(server_dsn: str, **options: Any) -> AsyncIterator[PostgresStorage]:
    """An opened PostgresStorage on a fresh database, closed and dropped on exit."""
    async with fresh_database(server_dsn) as dsn:
        storage = PostgresStorage(dsn, **options)
        await storage.open()
        try:
            yield storage
        finally:
            await storage.close()


def shared_tests(module: ModuleType, sqlite_only: set[str]) -> dict[str, Any]:
    """The test functions of a SQLite test module, minus those that read the SQLite file
    itself, to be run again in a PostgreSQL module with its own `storage` fixture: one
    contract, two backends. A name in `sqlite_only` that no longer exists is an error,
    so the list cannot go stale; a new SQLite test runs on PostgreSQL by default."""
    tests = {name: f for name, f in vars(module).items() if name.startswith("test_") and callable(f)}
    stale = sqlite_only - tests.keys()
    assert not stale, f"{module.__name__} has no tests named {sorted(stale)}"
    return {name: f for name, f in tests.items() if name not in sqlite_only}


COMPARED: dict[str, str] = {
    "trades": "exchange, symbol, trade_id",
    "candles": "symbol, interval, open_time",
    "symbols": "exchange, symbol",
    "indicators": "symbol, interval, ts",
    "indicator_state": "symbol, interval",
    "news": "id",
    "news_symbols": "symbol, published_at, id",
}
"""Every table both backends have, with its key as the dump order."""
_COLUMNS: dict[str, str] = {
    "trades": "exchange, symbol, trade_id, price, quantity, time, buyer_is_maker, count, event_time,"
    " received_at",
    "candles": "symbol, interval, open_time, open, high, low, close, volume, trades, quote_volume,"
    " taker_buy_volume, closed, last_trade_id",
    "symbols": "exchange, symbol, first_trade, last_trade",
    "indicators": "symbol, interval, ts, rsi, macd, macd_signal, macd_histogram, bollinger_middle,"
    " bollinger_upper, bollinger_lower, momentum",
    "indicator_state": "symbol, interval, ts, state",
    "news": "id, title, url, source, published_at, summary, symbols, sentiment",
    "news_symbols": "symbol, published_at, id",
}
_BOOLEANS = {"trades": (6,), "candles": (11,)}
_DECIMALS = {"trades": (3, 4), "candles": (3, 4, 5, 6, 7, 9, 10)}


def _normal(table: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """One backend-neutral form: decimals as their text, booleans as bool, bytes as bytes,
    news symbols as a list."""
    values = list(row)
    for i in _DECIMALS.get(table, ()):
        values[i] = str(values[i])
    for i in _BOOLEANS.get(table, ()):
        values[i] = bool(values[i])
    if table == "indicator_state":
        values[3] = bytes(values[3])
    if table == "news":
        values[6] = msgspec.json.decode(values[6]) if isinstance(values[6], str) else list(values[6])
    return tuple(values)


def dump_sqlite(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return {
            table: [
                _normal(table, r)
                for r in conn.execute(f"SELECT {_COLUMNS[table]} FROM {table} ORDER BY {key}")
            ]
            for table, key in COMPARED.items()
        }


async def dump_postgres(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [
            _normal(table, r)
            for r in await query(dsn, f"SELECT {_COLUMNS[table]} FROM {table} ORDER BY {key}")
        ]
        for table, key in COMPARED.items()
    }


def differences(
    got: dict[str, list[tuple[Any, ...]]], expected: dict[str, list[tuple[Any, ...]]]
) -> list[str]:
    """Per table that differs: its row counts and the first rows on each side that the other lacks."""
    report: list[str] = []
    for table in COMPARED:
        if got[table] == expected[table]:
            continue
        mine, theirs = set(got[table]), set(expected[table])
        extra = sorted(mine - theirs, key=repr)[:3]
        missing = sorted(theirs - mine, key=repr)[:3]
        report.append(
            f"{table}: {len(got[table])} rows, {len(expected[table])} expected\n"
            f"  unexpected: {extra}\n  missing:    {missing}"
        )
    return report
