"""PostgreSQL storage (asyncpg): the same contract as SQLite, shared by every instance.

Writes come in batches from the handlers, one transaction each, each table's rows as one
array statement. Writes are idempotent as in SQLite (trades unique on exchange, symbol,
trade id; candles upserted on symbol, interval, open time), so several instances may
write the same rows. Reads run on the same pool. With TimescaleDB installed on the
server, the time-ordered tables become hypertables (see `postgres_schema`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cryptoviz.errors import StorageError
from cryptoviz.models import INTERVALS, Candle, Stats24h, SymbolInfo, Trade
from cryptoviz.secrets import redacted
from cryptoviz.storage import postgres_schema as sql
from cryptoviz.storage.postgres_indicators import PostgresIndicators
from cryptoviz.storage.postgres_news import PostgresNews
from cryptoviz.storage.postgres_pool import PgConnection, PgPool
from cryptoviz.storage.spans import symbol_spans
from cryptoviz.storage.stats import stats_from_parts

log = logging.getLogger(__name__)
DAY_MS = 86_400_000
_INTERVAL_NAMES = list(INTERVALS)


def _candle(row: Sequence[Any]) -> Candle:
    return Candle(*row)


def _trade(row: Sequence[Any]) -> Trade:
    return Trade(*row)


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows to one list per column, the arrays an `unnest` statement takes."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


class PostgresStorage:
    def __init__(
        self,
        dsn: str,
        *,
        pool_min: int = 1,
        pool_max: int = 10,
        timeout_seconds: float = 30.0,
        timescaledb: bool = True,
        trades_retention_days: float = 0.0,
    ) -> None:
        """`timescaledb`: use the extension when the server has it; `trades_retention_days`
        also becomes a chunk retention policy then."""
        self.pool = PgPool(dsn, min_size=pool_min, max_size=pool_max, timeout=timeout_seconds)
        self.write_timings = self.pool.write_timings
        self.use_timescaledb = timescaledb
        self.timescaledb = False
        """Whether the tables are hypertables (TimescaleDB), found at `open`."""
        self._trades_retention_ms = int(trades_retention_days * DAY_MS)
        self.indicators = PostgresIndicators(self)
        self.news = PostgresNews(self)

    async def open(self) -> None:
        await self.pool.open()
        try:
            async with self.pool.transaction("migration") as conn:
                await self._migrate(conn)
            if self.use_timescaledb:
                self.timescaledb = await self._timescale()
        except BaseException:
            await self.close()
            raise

    async def _migrate(self, conn: PgConnection) -> None:
        """Apply the missing migrations under an advisory lock, so instances starting
        together on an empty database create it once."""
        await conn.execute(sql.LOCK_MIGRATIONS, sql.MIGRATION_LOCK)
        await conn.execute(sql.CREATE_VERSION_TABLE)
        version = int(await conn.fetchval(sql.SCHEMA_VERSION))
        if version > len(sql.MIGRATIONS):
            raise StorageError(
                f"database {redacted(self.pool.dsn)} has schema version {version}, newer than this"
                f" release knows ({len(sql.MIGRATIONS)})"
            )
        for number, script in enumerate(sql.MIGRATIONS[version:], start=version + 1):
            await conn.execute(script)
            await conn.execute(sql.RECORD_VERSION, number)
            log.info("storage: migrated %s to schema version %d", redacted(self.pool.dsn), number)

    async def _timescale(self) -> bool:
        """Lay the tables out for TimescaleDB when the server offers it; plain tables otherwise.
        A layout the server refuses (say the library is not preloaded) is logged, not fatal."""
        async with self.pool.connection("TimescaleDB check") as conn:
            if not await conn.fetchval(sql.TIMESCALE_AVAILABLE):
                log.info("storage: TimescaleDB is not available on the server; plain tables")
                return False
            if await conn.fetchval(sql.TIMESCALE_DONE):
                return True
        try:
            async with self.pool.transaction("TimescaleDB layout") as conn:
                await conn.execute(sql.LOCK_MIGRATIONS, sql.MIGRATION_LOCK)
                if not await conn.fetchval(sql.TIMESCALE_DONE):
                    await conn.execute(sql.TIMESCALE_LAYOUT)
                    if self._trades_retention_ms > 0:
                        await conn.execute(sql.TIMESCALE_RETENTION, self._trades_retention_ms)
        except StorageError as exc:
            log.warning("storage: TimescaleDB layout failed (%s); keeping plain tables", exc)
            return False
        log.info("storage: trades, candles and indicators are TimescaleDB hypertables")
        return True

    async def close(self) -> None:
        await self.pool.close()

    async def ping(self) -> None:
        await self.pool.fetch("SELECT 1")

    async def insert_trades(self, trades: Sequence[Trade]) -> int:
        if not trades:
            return 0
        # Sorted by key, so concurrent writers of overlapping batches lock rows in one order.
        ordered = sorted(trades, key=lambda t: (t.symbol, t.trade_id, t.exchange))
        rows = [
            (t.exchange, t.symbol, t.trade_id, t.price, t.quantity, t.time, t.buyer_is_maker, t.count,
             t.event_time, t.received_at)
            for t in ordered
        ]  # fmt: skip
        symbols = symbol_spans(trades)
        async with self.pool.transaction("trade insert") as conn:
            inserted = await conn.execute(sql.INSERT_TRADES, *_columns(rows, 10))
            await conn.execute(sql.UPSERT_SYMBOLS, *_columns(symbols, 4))
        return inserted

    async def upsert_candles(self, candles: Sequence[Candle]) -> None:
        if not candles:
            return
        latest: dict[tuple[str, str, int], Candle] = {}
        for c in candles:  # one row per key, the last given wins (as one statement per row would)
            latest[(c.symbol, c.interval, c.open_time)] = c
        rows = [
            (c.symbol, c.interval, c.open_time, c.open, c.high, c.low, c.close, c.volume, c.trades,
             c.quote_volume, c.taker_buy_volume, c.closed, c.last_trade_id)
            for _, c in sorted(latest.items())
        ]  # fmt: skip
        async with self.pool.transaction("candle upsert") as conn:
            await conn.execute(sql.UPSERT_CANDLES, *_columns(rows, 13))

    async def candles(
        self, symbol: str, interval: str, *, start: int | None, end: int | None, limit: int
    ) -> list[Candle]:
        lo = -1 if start is None else start
        hi = 2**62 if end is None else end
        if start is not None:
            return [
                _candle(r)
                for r in await self.pool.fetch(sql.CANDLES_FORWARD, symbol, interval, lo, hi, limit)
            ]
        rows = await self.pool.fetch(sql.CANDLES_BACKWARD, symbol, interval, lo, hi, limit)
        return [_candle(r) for r in reversed(rows)]

    async def latest_candles(self, symbol: str) -> list[Candle]:
        return [_candle(r) for r in await self.pool.fetch(sql.LATEST_CANDLES, symbol, _INTERVAL_NAMES)]

    async def trades_after(self, symbol: str, trade_id: int, limit: int) -> list[Trade]:
        return [_trade(r) for r in await self.pool.fetch(sql.TRADES_AFTER, symbol, trade_id, limit)]

    async def last_trade_ids(self) -> dict[tuple[str, str], int]:
        rows = await self.pool.fetch(sql.LAST_TRADE_IDS)
        return {(exchange, symbol): int(last) for exchange, symbol, last in rows if last is not None}

    async def latest_trade(self, symbol: str) -> Trade | None:
        rows = await self.pool.fetch(sql.LATEST_TRADE, symbol)
        return _trade(rows[0]) if rows else None

    async def stats_24h(self, symbol: str) -> Stats24h | None:
        """As in SQLite: full minutes from the 1m candles, the partial edges from trades."""
        last = await self.latest_trade(symbol)
        if last is None:
            return None
        start = last.time - DAY_MS
        minute = INTERVALS["1m"]
        first_full_minute = -(-start // minute) * minute
        first = await self.pool.fetch(sql.FIRST_PRICE_SINCE, symbol, start)
        candles = await self.candles(symbol, "1m", start=first_full_minute, end=last.time, limit=1441)
        if candles:
            head = await self.pool.fetch(sql.TRADES_BETWEEN, symbol, start, first_full_minute)
            tail = await self.pool.fetch(sql.TRADES_PAST_ID, symbol, candles[-1].last_trade_id)
            edges = head + tail
        else:
            edges = await self.pool.fetch(sql.TRADES_SINCE, symbol, start)
        first_price: Decimal = first[0][0]
        return stats_from_parts(symbol, first_price, last.price, candles, edges)

    async def symbols(self) -> list[SymbolInfo]:
        return [SymbolInfo(*row) for row in await self.pool.fetch(sql.SYMBOLS)]

    async def prune(self, retention_days: dict[str, float]) -> dict[str, int]:
        """Per table or interval and per symbol, counted back from that symbol's newest row;
        one short transaction each, so writers are never held up for long."""
        deleted: dict[str, int] = {}
        symbols = [s.symbol for s in await self.symbols()]
        for table_or_interval, days in retention_days.items():
            if days <= 0:
                continue
            keep_ms = int(days * DAY_MS)
            total = 0
            for symbol in symbols:
                async with self.pool.transaction("retention") as conn:
                    if table_or_interval == "trades":
                        total += await conn.execute(sql.PRUNE_TRADES, symbol, keep_ms)
                    else:
                        total += await conn.execute(sql.PRUNE_CANDLES, symbol, table_or_interval, keep_ms)
            deleted[table_or_interval] = total
        return deleted
