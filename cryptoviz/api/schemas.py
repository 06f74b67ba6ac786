"""Response shapes of the REST API, as in the guide (also feed the OpenAPI schema)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from cryptoviz.models import Candle
from cryptoviz.timeutil import to_rfc3339

T = TypeVar("T")


class CandleOut(msgspec.Struct):
    time: str
    """Open time, RFC 3339 UTC."""
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int
    quote_volume: Decimal
    taker_buy_volume: Decimal
    closed: bool

    @classmethod
    def of(cls, c: Candle) -> CandleOut:
        return cls(
            to_rfc3339(c.open_time), c.open, c.high, c.low, c.close, c.volume, c.trades,
            c.quote_volume, c.taker_buy_volume, c.closed,
        )  # fmt: skip


class CandlesData(msgspec.Struct):
    symbol: str
    interval: str
    data: list[CandleOut]


class LatestData(msgspec.Struct):
    symbol: str
    price: Decimal
    timestamp: str


class StatsData(msgspec.Struct):
    symbol: str
    high_24h: Decimal
    low_24h: Decimal
    change_24h: float
    volume_24h: Decimal


class SymbolOut(msgspec.Struct):
    symbol: str
    exchange: str
    first_trade: str
    last_trade: str


class HealthData(msgspec.Struct):
    status: str


class ErrorBody(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    details: dict[str, Any] | None = None


class Envelope(msgspec.Struct, Generic[T]):
    success: bool
    data: T
    timestamp: str


class ErrorEnvelope(msgspec.Struct):
    success: bool
    error: ErrorBody
    timestamp: str
