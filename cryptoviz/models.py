"""Domain models shared by every layer: trades, candles, intervals.

Prices and quantities are `Decimal` from the wire to storage; JSON output writes them
as numbers (see `cryptoviz.codec`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Literal

import msgspec

IntervalName = Literal["1s", "5s", "1m", "15m", "1h", "4h", "1d"]

INTERVALS: Final[dict[str, int]] = {
    "1s": 1_000,
    "5s": 5_000,
    "1m": 60_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}
"""Interval name -> length in milliseconds. Windows are aligned on the UTC epoch."""

TOPIC_RAW_TRADES: Final = "crypto.raw.trades"
TOPIC_NEWS: Final = "crypto.news"

IndicatorType = Literal["rsi", "macd", "bollinger", "momentum"]
INDICATOR_TYPES: Final[tuple[IndicatorType, ...]] = ("rsi", "macd", "bollinger", "momentum")


def candle_topic(interval: str) -> str:
    """Bus topic carrying candles of one interval, as named in the guide."""
    return f"crypto.aggregated.{interval}"


def indicator_topic(kind: str) -> str:
    """Bus topic carrying points of one indicator type, as named in the guide."""
    return f"crypto.indicators.{kind}"


class Trade(msgspec.Struct, frozen=True, gc=False):
    """One exchange trade (or aggregate trade) in exchange time.

    `count` is the number of raw trades it stands for: 1 for a trade,
    `l - f + 1` for a Binance aggTrade.
    """

    exchange: str
    symbol: str
    trade_id: int
    price: Decimal
    quantity: Decimal
    time: int
    """Trade time, epoch ms (the exchange's `T`)."""
    buyer_is_maker: bool
    count: int = 1
    event_time: int = 0
    """Exchange event time, epoch ms (the exchange's `E`); 0 when unknown."""
    received_at: int = 0
    """Local receive time, epoch ms; 0 when unknown."""

    @property
    def side(self) -> Literal["buy", "sell"]:
        """`buy` when the buyer was the taker."""
        return "sell" if self.buyer_is_maker else "buy"


class Candle(msgspec.Struct, gc=False):
    """An OHLCV candle over `[open_time, open_time + interval)` in trade time.

    Mutable: the aggregator updates the forming candle in place and publishes copies.
    `last_trade_id` is the id of the newest trade counted in it, which makes
    re-aggregation after a restart idempotent.
    """

    symbol: str
    interval: str
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int
    quote_volume: Decimal
    taker_buy_volume: Decimal
    closed: bool
    last_trade_id: int

    def copy(self) -> Candle:
        """A snapshot that later in-place updates do not change."""
        return msgspec.structs.replace(self)


class SymbolInfo(msgspec.Struct, frozen=True):
    symbol: str
    exchange: str
    first_trade: int
    last_trade: int


class Stats24h(msgspec.Struct, frozen=True):
    symbol: str
    high_24h: Decimal
    low_24h: Decimal
    change_24h: float
    volume_24h: Decimal


class IndicatorPoint(msgspec.Struct, frozen=True, gc=False):
    """One indicator value at one candle, in double precision as TA-Lib computes it.

    `value` is the RSI, the MACD line, the Bollinger middle band or the momentum;
    MACD fills `signal` and `histogram`, Bollinger `upper` and `lower`. `final` is
    False for a provisional value of a still-forming candle (pushed, never stored).
    """

    symbol: str
    interval: str
    type: str
    ts: int
    """Open time of the candle, epoch ms."""
    value: float
    signal: float | None = None
    histogram: float | None = None
    upper: float | None = None
    lower: float | None = None
    final: bool = True


class NewsItem(msgspec.Struct, frozen=True):
    """One news article, normalised from whatever feed carried it.

    `id` is derived from the canonical URL (tracking parameters stripped), so the same
    article from two feeds is one item.
    """

    id: str
    title: str
    url: str
    source: str
    published_at: int
    """Epoch ms."""
    summary: str
    symbols: list[str]
    sentiment: float
    """VADER compound score in [-1, 1]."""
