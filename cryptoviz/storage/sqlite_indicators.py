"""SQLite storage of indicator points and series state (see `storage.base.IndicatorStore`).

One row per candle holds the points of every type, a column per value, since the plugin
writes a candle's points together. Values are REAL, so a double comes back bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from cryptoviz.models import INTERVALS, IndicatorPoint
from cryptoviz.storage import schema
from cryptoviz.storage.base import SeriesState

if TYPE_CHECKING:
    from cryptoviz.storage.sqlite import SQLiteStorage

DAY_MS = 86_400_000
_FIELDS = {
    "rsi": ("value",),
    "macd": ("value", "signal", "histogram"),
    "bollinger": ("value", "upper", "lower"),
    "momentum": ("value",),
}
"""IndicatorPoint fields of each type, in the order of its columns."""
_SLOTS = {
    kind: (
        3 + schema.INDICATOR_VALUES.index(schema.INDICATOR_COLUMNS[kind][0]),
        len(fields),
        attrgetter(*fields),
    )
    for kind, fields in _FIELDS.items()
}
"""Per type: the row index of its first column, how many columns, and their values' getter."""


def _rows(points: Sequence[IndicatorPoint]) -> list[list[Any]]:
    """One row per (symbol, interval, ts); a later point of the same type wins."""
    rows: dict[tuple[str, str, int], list[Any]] = {}
    empty = [None] * len(schema.INDICATOR_VALUES)
    for p in points:
        row = rows.get((p.symbol, p.interval, p.ts))
        if row is None:
            row = rows[(p.symbol, p.interval, p.ts)] = [p.symbol, p.interval, p.ts, *empty]
        first, width, values = _SLOTS[p.type]
        if width == 1:
            row[first] = values(p)
        else:
            row[first : first + width] = values(p)
    return list(rows.values())


def _point(symbol: str, interval: str, kind: str, row: Sequence[Any]) -> IndicatorPoint:
    if kind == "macd":
        return IndicatorPoint(symbol, interval, kind, row[0], row[1], signal=row[2], histogram=row[3])
    if kind == "bollinger":
        return IndicatorPoint(symbol, interval, kind, row[0], row[1], upper=row[2], lower=row[3])
    return IndicatorPoint(symbol, interval, kind, row[0], row[1])


class SQLiteIndicators:
    def __init__(self, db: SQLiteStorage) -> None:
        self._db = db

    async def upsert(self, points: Sequence[IndicatorPoint]) -> None:
        await self.save(points, ())

    async def save(self, points: Sequence[IndicatorPoint], states: Sequence[SeriesState]) -> None:
        if not points and not states:
            return
        rows = _rows(points)
        step = schema.INDICATOR_ROWS_PER_STATEMENT
        full = len(rows) // step * step
        grouped = [tuple(chain.from_iterable(rows[i : i + step])) for i in range(0, full, step)]
        await self._db.transaction(
            [
                (schema.UPSERT_INDICATORS, grouped),
                (schema.UPSERT_INDICATOR, rows[full:]),
                (schema.UPSERT_INDICATOR_STATE, [(s.symbol, s.interval, s.ts, s.state) for s in states]),
            ],
            "indicator save",
        )

    async def states(self) -> list[SeriesState]:
        rows = await self._db.fetch(schema.INDICATOR_STATES, ())
        return [SeriesState(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    async def points(
        self, symbol: str, kind: str, interval: str, *, start: int | None, end: int | None, limit: int
    ) -> list[IndicatorPoint]:
        if kind not in _FIELDS:
            raise ValueError(f"unknown indicator type {kind!r}")
        lo = -1 if start is None else start
        hi = 2**62 if end is None else end
        if start is not None:
            rows = await self._db.fetch(schema.INDICATORS_FORWARD[kind], (symbol, interval, lo, hi, limit))
        else:
            rows = list(
                reversed(
                    await self._db.fetch(schema.INDICATORS_BACKWARD[kind], (symbol, interval, lo, hi, limit))
                )
            )
        return [_point(symbol, interval, kind, r) for r in rows]

    async def prune(self, retention_days: dict[str, float]) -> dict[str, int]:
        deleted: dict[str, int] = {}
        symbols = sorted({info.symbol for info in await self._db.symbols()})
        for interval, days in retention_days.items():
            if interval not in INTERVALS or days <= 0:
                continue
            keep_ms = int(days * DAY_MS)
            params = [(symbol, interval, symbol, interval, keep_ms) for symbol in symbols]
            changed = await self._db.transaction([(schema.PRUNE_INDICATORS, params)], "indicator retention")
            deleted[interval] = changed[0]
        return deleted
