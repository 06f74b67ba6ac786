"""SQLite storage (aiosqlite): WAL, one writer connection, one read-only connection.

Writes come in batches from the handlers, one transaction each. Reads for the API run
on their own connection, which WAL lets proceed while a write is in progress.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any

import aiosqlite

from cryptoviz.errors import StorageError, StorageUnavailable
from cryptoviz.models import INTERVALS, Candle, Stats24h, SymbolInfo, Trade
from cryptoviz.observability.timings import WriteTimings
from cryptoviz.storage import schema
from cryptoviz.storage.spans import symbol_spans
from cryptoviz.storage.sqlite_indicators import SQLiteIndicators
from cryptoviz.storage.sqlite_news import SQLiteNews
from cryptoviz.storage.stats import stats_from_parts

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


def _candle(row: Sequence[Any]) -> Candle:
    return Candle(
        row[0], row[1], row[2], Decimal(row[3]), Decimal(row[4]), Decimal(row[5]), Decimal(row[6]),
        Decimal(row[7]), row[8], Decimal(row[9]), Decimal(row[10]), bool(row[11]), row[12],
    )  # fmt: skip


def _trade(row: Sequence[Any]) -> Trade:
    return Trade(
        row[0], row[1], row[2], Decimal(row[3]), Decimal(row[4]), row[5], bool(row[6]), row[7], row[8], row[9]
    )


class SQLiteStorage:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()  # one transaction at a time on the writer connection
        self.write_timings = WriteTimings()
        """Durations of the committed write transactions, per kind, for /metrics."""
        self.indicators = SQLiteIndicators(self)
        self.news = SQLiteNews(self)

    async def open(self) -> None:
        if self.path == ":memory:" or self.path.startswith("file:"):
            raise StorageError(
                f"`storage.sqlite_path` = {self.path!r}: give a file path; the API reads through"
                " its own connection, which an in-memory database cannot share"
            )
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await aiosqlite.connect(self.path, isolation_level=None)
            await self._writer.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
            )
            await self._migrate(self._writer)
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await self._reader.executescript("PRAGMA busy_timeout=10000; PRAGMA query_only=1;")
        except sqlite3.Error as exc:
            await self.close()
            raise StorageError(f"cannot open SQLite database {self.path}: {exc}") from exc
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version > len(schema.MIGRATIONS):
            raise StorageError(
                f"database {self.path} has schema version {version}, newer than this release knows"
                f" ({len(schema.MIGRATIONS)})"
            )
        for number, script in enumerate(schema.MIGRATIONS[version:], start=version + 1):
            # user_version cannot be a bound parameter; `number` is an int from this module.
            await conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {int(number)}; COMMIT;")
            log.info("storage: migrated %s to schema version %d", self.path, number)

    @property
    def _w(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise StorageUnavailable("storage is not open")
        return self._writer

    @property
    def _r(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StorageUnavailable("storage is not open")
        return self._reader

    async def ping(self) -> None:
        async with self._r.execute("SELECT 1") as cur:
            await cur.fetchone()

    async def transaction(
        self, statements: Iterable[tuple[str, Sequence[Sequence[Any]]]], what: str = "write"
    ) -> list[int]:
        """Run statements in one transaction; return the rows each changed. Its duration,
        lock wait excluded, is recorded under `what` once committed."""
        conn = self._w
        async with self._write_lock:
            try:
                started = time.perf_counter()
                changed: list[int] = []
                await conn.execute("BEGIN IMMEDIATE")
                for sql, rows in statements:
                    before = conn.total_changes
                    await conn.executemany(sql, rows)
                    changed.append(conn.total_changes - before)
                await conn.execute("COMMIT")
                self.write_timings.observe(what, time.perf_counter() - started)
                return changed
            except sqlite3.Error as exc:
                await self._rollback(conn)
                error = StorageUnavailable if isinstance(exc, sqlite3.OperationalError) else StorageError
                raise error(f"SQLite write failed: {exc}") from exc
            except BaseException:  # cancelled mid-transaction: leave the connection clean
                await asyncio.shield(self._rollback(conn))
                raise

    @staticmethod
    async def _rollback(conn: aiosqlite.Connection) -> None:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")

    async def insert_trades(self, trades: Sequence[Trade]) -> int:
        if not trades:
            return 0
        rows = [
            (t.exchange, t.symbol, t.trade_id, str(t.price), str(t.quantity), t.time,
             t.buyer_is_maker, t.count, t.event_time, t.received_at)
            for t in trades
        ]  # fmt: skip
        symbols = symbol_spans(trades)
        step = schema.TRADES_PER_STATEMENT
        full = len(rows) // step * step
        grouped = [tuple(chain.from_iterable(rows[i : i + step])) for i in range(0, full, step)]
        changed = await self.transaction(
            [
                (schema.INSERT_TRADES, grouped),
                (schema.INSERT_TRADE, rows[full:]),
                (schema.UPSERT_SYMBOL, symbols),
            ],
            "trade insert",
        )
        return changed[0] + changed[1]

    async def upsert_candles(self, candles: Sequence[Candle]) -> None:
        if not candles:
            return
        rows = [
            (c.symbol, c.interval, c.open_time, str(c.open), str(c.high), str(c.low), str(c.close),
             str(c.volume), c.trades, str(c.quote_volume), str(c.taker_buy_volume), c.closed, c.last_trade_id)
            for c in candles
        ]  # fmt: skip
        await self.transaction([(schema.UPSERT_CANDLE, rows)], "candle upsert")

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            async with self._r.execute(sql, params) as cur:
                return list(await cur.fetchall())
        except sqlite3.OperationalError as exc:
            raise StorageUnavailable(f"SQLite read failed: {exc}") from exc

    async def candles(
        self, symbol: str, interval: str, *, start: int | None, end: int | None, limit: int
    ) -> list[Candle]:
        lo = -1 if start is None else start
        hi = 2**62 if end is None else end
        if start is not None:
            rows = await self.fetch(schema.CANDLES_FORWARD, (symbol, interval, lo, hi, limit))
            return [_candle(r) for r in rows]
        rows = await self.fetch(schema.CANDLES_BACKWARD, (symbol, interval, lo, hi, limit))
        return [_candle(r) for r in reversed(rows)]

    async def latest_candles(self, symbol: str) -> list[Candle]:
        found: list[Candle] = []
        for interval in INTERVALS:
            found.extend(_candle(r) for r in await self.fetch(schema.LATEST_CANDLE, (symbol, interval)))
        return found

    async def trades_after(self, symbol: str, trade_id: int, limit: int) -> list[Trade]:
        return [_trade(r) for r in await self.fetch(schema.TRADES_AFTER, (symbol, trade_id, limit))]

    async def last_trade_ids(self) -> dict[tuple[str, str], int]:
        pairs = await self.fetch("SELECT exchange, symbol FROM symbols", ())
        result: dict[tuple[str, str], int] = {}
        for exchange, symbol in pairs:
            rows = await self.fetch(
                "SELECT max(trade_id) FROM trades WHERE exchange = ? AND symbol = ?", (exchange, symbol)
            )
            if rows and rows[0][0] is not None:
                result[(exchange, symbol)] = int(rows[0][0])
        return result

    async def latest_trade(self, symbol: str) -> Trade | None:
        rows = await self.fetch(schema.LATEST_TRADE, (symbol,))
        return _trade(rows[0]) if rows else None

    async def stats_24h(self, symbol: str) -> Stats24h | None:
        last = await self.latest_trade(symbol)
        if last is None:
            return None
        start = last.time - DAY_MS
        minute = INTERVALS["1m"]
        first_full_minute = -(-start // minute) * minute
        first = await self.fetch(
            "SELECT price FROM trades WHERE symbol = ? AND time >= ? ORDER BY time, trade_id LIMIT 1",
            (symbol, start),
        )
        candles = await self.candles(symbol, "1m", start=first_full_minute, end=last.time, limit=1441)
        if candles:
            edge_sql = "SELECT price, quantity FROM trades WHERE symbol = ? AND time >= ? AND time < ?"
            head = await self.fetch(edge_sql, (symbol, start, first_full_minute))
            tail = await self.fetch(
                "SELECT price, quantity FROM trades WHERE symbol = ? AND trade_id > ?",
                (symbol, candles[-1].last_trade_id),
            )
            edges = head + tail
        else:
            edges = await self.fetch(
                "SELECT price, quantity FROM trades WHERE symbol = ? AND time >= ?", (symbol, start)
            )
        return stats_from_parts(symbol, Decimal(first[0][0]), last.price, candles, edges)

    async def symbols(self) -> list[SymbolInfo]:
        rows = await self.fetch(
            "SELECT symbol, exchange, first_trade, last_trade FROM symbols ORDER BY symbol, exchange", ()
        )
        return [SymbolInfo(*row) for row in rows]

    async def prune(self, retention_days: dict[str, float]) -> dict[str, int]:
        deleted: dict[str, int] = {}
        symbols = [s.symbol for s in await self.symbols()]
        for table_or_interval, days in retention_days.items():
            if days <= 0:
                continue
            keep_ms = int(days * DAY_MS)
            total = 0
            for symbol in symbols:
                total += await self._prune_one(table_or_interval, symbol, keep_ms)
            deleted[table_or_interval] = total
        return deleted

    async def _prune_one(self, table_or_interval: str, symbol: str, keep_ms: int) -> int:
        if table_or_interval == "trades":
            sql = (
                "DELETE FROM trades WHERE symbol = ? AND time <"
                " (SELECT max(time) FROM trades WHERE symbol = ?) - ?"
            )
            params: tuple[Any, ...] = (symbol, symbol, keep_ms)
        else:
            sql = (
                "DELETE FROM candles WHERE symbol = ? AND interval = ? AND open_time <"
                " (SELECT max(open_time) FROM candles WHERE symbol = ? AND interval = ?) - ?"
            )
            params = (symbol, table_or_interval, symbol, table_or_interval, keep_ms)
        return (await self.transaction([(sql, [params])], "retention"))[0]
