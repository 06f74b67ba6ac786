"""PostgreSQL storage of indicator points and series state (see `storage.base.IndicatorStore`).

The layout is SQLite's: one row per candle holds the points of every type, a column per
value, since the plugin writes a candle's points together; a row sets the values it
carries and keeps the others. Values are double precision, sent and read in binary, so a
double comes back bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final

from cryptoviz.models import INTERVALS, IndicatorPoint
from cryptoviz.storage.base import SeriesState

if TYPE_CHECKING:
    from cryptoviz.storage.postgres import PostgresStorage

DAY_MS = 86_400_000
UPSERT_INDICATORS: Final = (
    "INSERT INTO indicators (symbol, interval, ts, rsi, macd, macd_signal, macd_histogram,"
    " bollinger_middle, bollinger_upper, bollinger_lower, momentum)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[],"
    " $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[])"
    " ON CONFLICT (symbol, interval, ts) DO UPDATE SET rsi = coalesce(excluded.rsi, indicators.rsi),"
    " macd = coalesce(excluded.macd, indicators.macd),"
    " macd_signal = coalesce(excluded.macd_signal, indicators.macd_signal),"
    " macd_histogram = coalesce(excluded.macd_histogram, indicators.macd_histogram),"
    " bollinger_middle = coalesce(excluded.bollinger_middle, indicators.bollinger_middle),"
    " bollinger_upper = coalesce(excluded.bollinger_upper, indicators.bollinger_upper),"
    " bollinger_lower = coalesce(excluded.bollinger_lower, indicators.bollinger_lower),"
    " momentum = coalesce(excluded.momentum, indicators.momentum)"
)
UPSERT_STATES: Final = (
    "INSERT INTO indicator_state (symbol, interval, ts, state)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[])"
    " ON CONFLICT (symbol, interval) DO UPDATE SET ts = excluded.ts, state = excluded.state"
)
STATES: Final = "SELECT symbol, interval, ts, state FROM indicator_state ORDER BY symbol, interval"
_WHERE: Final = " FROM indicators WHERE symbol = $1 AND interval = $2"
POINTS_FORWARD: Final[dict[str, str]] = {
    "rsi": "SELECT ts, rsi" + _WHERE + " AND rsi IS NOT NULL AND ts BETWEEN $3 AND $4 ORDER BY ts LIMIT $5",
    "macd": "SELECT ts, macd, macd_signal, macd_histogram" + _WHERE
    + " AND macd IS NOT NULL AND ts BETWEEN $3 AND $4 ORDER BY ts LIMIT $5",
    "bollinger": "SELECT ts, bollinger_middle, bollinger_upper, bollinger_lower" + _WHERE
    + " AND bollinger_middle IS NOT NULL AND ts BETWEEN $3 AND $4 ORDER BY ts LIMIT $5",
    "momentum": "SELECT ts, momentum" + _WHERE
    + " AND momentum IS NOT NULL AND ts BETWEEN $3 AND $4 ORDER BY ts LIMIT $5",
}  # fmt: skip
POINTS_BACKWARD: Final = {
    kind: q.replace("ORDER BY ts", "ORDER BY ts DESC") for kind, q in POINTS_FORWARD.items()
}
PRUNE_INDICATORS: Final = (
    "DELETE FROM indicators WHERE symbol = $1 AND interval = $2 AND ts <"
    " (SELECT max(ts) FROM indicators WHERE symbol = $1 AND interval = $2) - $3"
)
_VALUES = 8
_SLOTS: Final = {
    "rsi": (0, 1, attrgetter("value")),
    "macd": (1, 3, attrgetter("value", "signal", "histogram")),
    "bollinger": (4, 3, attrgetter("value", "upper", "lower")),
    "momentum": (7, 1, attrgetter("value")),
}
"""Per type: the index of its first value column, how many, and the point's fields for them."""


def _columns(points: Sequence[IndicatorPoint]) -> list[list[Any]]:
    """One row per (symbol, interval, ts), a later point of the same type winning, as the
    arrays of the upsert: symbols, intervals, times, then each value column."""
    rows: dict[tuple[str, str, int], list[Any]] = {}
    for p in points:
        key = (p.symbol, p.interval, p.ts)
        row = rows.get(key)
        if row is None:
            row = rows[key] = [None] * _VALUES
        first, width, fields = _SLOTS[p.type]
        if width == 1:
            row[first] = fields(p)
        else:
            row[first : first + width] = fields(p)
    keys = sorted(rows)
    columns: list[list[Any]] = [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]]
    columns += [[rows[k][i] for k in keys] for i in range(_VALUES)]
    return columns


def _point(symbol: str, interval: str, kind: str, row: Sequence[Any]) -> IndicatorPoint:
    if kind == "macd":
        return IndicatorPoint(symbol, interval, kind, row[0], row[1], signal=row[2], histogram=row[3])
    if kind == "bollinger":
        return IndicatorPoint(symbol, interval, kind, row[0], row[1], upper=row[2], lower=row[3])
    return IndicatorPoint(symbol, interval, kind, row[0], row[1])


class PostgresIndicators:
    def __init__(self, db: PostgresStorage) -> None:
        self._db = db

    async def upsert(self, points: Sequence[IndicatorPoint]) -> None:
        await self.save(points, ())

    async def save(self, points: Sequence[IndicatorPoint], states: Sequence[SeriesState]) -> None:
        if not points and not states:
            return
        latest = {(s.symbol, s.interval): s for s in states}  # the last state of a series wins
        ordered = [latest[key] for key in sorted(latest)]
        async with self._db.pool.transaction("indicator save") as conn:
            if points:
                await conn.execute(UPSERT_INDICATORS, *_columns(points))
            if ordered:
                await conn.execute(
                    UPSERT_STATES, [s.symbol for s in ordered], [s.interval for s in ordered],
                    [s.ts for s in ordered], [s.state for s in ordered],
                )  # fmt: skip

    async def states(self) -> list[SeriesState]:
        rows = await self._db.pool.fetch(STATES)
        return [SeriesState(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    async def points(
        self, symbol: str, kind: str, interval: str, *, start: int | None, end: int | None, limit: int
    ) -> list[IndicatorPoint]:
        if kind not in POINTS_FORWARD:
            raise ValueError(f"unknown indicator type {kind!r}")
        lo = -1 if start is None else start
        hi = 2**62 if end is None else end
        if start is not None:
            rows = await self._db.pool.fetch(POINTS_FORWARD[kind], symbol, interval, lo, hi, limit)
        else:
            rows = list(
                reversed(await self._db.pool.fetch(POINTS_BACKWARD[kind], symbol, interval, lo, hi, limit))
            )
        return [_point(symbol, interval, kind, r) for r in rows]

    async def prune(self, retention_days: dict[str, float]) -> dict[str, int]:
        deleted: dict[str, int] = {}
        symbols = sorted({info.symbol for info in await self._db.symbols()})
        for interval, days in retention_days.items():
            if interval not in INTERVALS or days <= 0:
                continue
            keep_ms = int(days * DAY_MS)
            total = 0
            async with self._db.pool.transaction("indicator retention") as conn:
                for symbol in symbols:
                    total += await conn.execute(PRUNE_INDICATORS, symbol, interval, keep_ms)
            deleted[interval] = total
        return deleted
