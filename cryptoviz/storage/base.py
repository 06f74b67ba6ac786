"""The storage seam: what handlers write and what the API reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from cryptoviz.models import Candle, IndicatorPoint, NewsItem, Stats24h, SymbolInfo, Trade


class SeriesState(msgspec.Struct, frozen=True):
    """An indicator series' serialised state after the candle opened at `ts`."""

    symbol: str
    interval: str
    ts: int
    state: bytes


class IndicatorStore(Protocol):
    """Final indicator points, and each (symbol, interval) series' state for resuming."""

    async def upsert(self, points: Sequence[IndicatorPoint]) -> None:
        """Insert or replace points by (symbol, interval, type, ts)."""

    async def save(self, points: Sequence[IndicatorPoint], states: Sequence[SeriesState]) -> None:
        """Upsert points and replace series states in one transaction, so a crash never
        leaves a state that disagrees with the stored points."""

    async def states(self) -> list[SeriesState]:
        """Every stored series state."""

    async def points(
        self, symbol: str, kind: str, interval: str, *, start: int | None, end: int | None, limit: int
    ) -> list[IndicatorPoint]:
        """Points oldest first: from `start` forward when given, else the latest up to `end`."""

    async def prune(self, retention_days: dict[str, float]) -> dict[str, int]:
        """Delete points older than the retention of their interval, counted back from each
        series' newest point; return the points deleted per interval."""


class NewsStore(Protocol):
    """News items, unique by id."""

    async def insert(self, items: Sequence[NewsItem]) -> int:
        """Store items, ignoring ids already stored; return how many were new."""

    async def latest(self, *, limit: int, since: int | None, symbol: str | None) -> list[NewsItem]:
        """Items newest first, published at or after `since`, tagged with `symbol` when given."""

    async def known(self, ids: Sequence[str]) -> set[str]:
        """The ids among `ids` already stored (lets a collector publish only new articles)."""


class Storage(Protocol):
    """Trades, candles and symbols, with batched writes done by the caller.

    Writers hand over whole batches (one transaction each); every write is idempotent
    (trades unique on exchange, symbol, trade id; candles upserted on symbol, interval,
    open time), so a batch retried after a failure never doubles anything.
    """

    @property
    def indicators(self) -> IndicatorStore: ...

    @property
    def news(self) -> NewsStore: ...

    async def open(self) -> None:
        """Connect, create or migrate the schema."""

    async def close(self) -> None:
        """Release connections; pending writes belong to the callers."""

    async def ping(self) -> None:
        """Raise when the storage cannot serve a trivial query."""

    async def insert_trades(self, trades: Sequence[Trade]) -> int:
        """Store trades, ignoring ones already stored; return how many were new."""

    async def upsert_candles(self, candles: Sequence[Candle]) -> None:
        """Insert or replace candles by (symbol, interval, open_time)."""

    async def candles(
        self, symbol: str, interval: str, *, start: int | None, end: int | None, limit: int
    ) -> list[Candle]:
        """Candles oldest first: from `start` forward when given, else the latest up to `end`."""

    async def latest_candles(self, symbol: str) -> list[Candle]:
        """The newest stored candle of each interval of `symbol`."""

    async def trades_after(self, symbol: str, trade_id: int, limit: int) -> list[Trade]:
        """Stored trades of `symbol` with a larger id, by id."""

    async def last_trade_ids(self) -> dict[tuple[str, str], int]:
        """The newest stored trade id per (exchange, symbol)."""

    async def latest_trade(self, symbol: str) -> Trade | None:
        """The symbol's last trade by trade time."""

    async def stats_24h(self, symbol: str) -> Stats24h | None:
        """High, low, change and volume over the 24 h ending at the last trade."""

    async def symbols(self) -> list[SymbolInfo]:
        """Every symbol with stored trades, by name."""

    async def prune(self, retention_days: dict[str, float]) -> dict[str, int]:
        """Delete rows older than the retention; return rows deleted per table or interval."""
