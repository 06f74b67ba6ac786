"""24 h statistics assembled from 1m candles plus the trades at the edges, exactly."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cryptoviz.models import Candle, Stats24h


def stats_from_parts(
    symbol: str, first_price: Decimal, last_price: Decimal, candles: Sequence[Candle], edges: Sequence[Any]
) -> Stats24h:
    """Combine full-minute candles with (price, quantity) rows of the partial minutes."""
    high: Decimal | None = None
    low: Decimal | None = None
    volume = Decimal(0)
    for candle in candles:
        if candle.trades == 0:
            continue
        high = candle.high if high is None or candle.high > high else high
        low = candle.low if low is None or candle.low < low else low
        volume += candle.volume
    for price_text, quantity_text in edges:
        price = Decimal(price_text)
        high = price if high is None or price > high else high
        low = price if low is None or price < low else low
        volume += Decimal(quantity_text)
    high = last_price if high is None else high
    low = last_price if low is None else low
    change = float((last_price - first_price) / first_price * 100) if first_price else 0.0
    return Stats24h(symbol=symbol, high_24h=high, low_24h=low, change_24h=change, volume_24h=volume)
