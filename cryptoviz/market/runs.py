"""Runs: a symbol's consecutive trades within one window of the finest interval.

Folding a run into a coarser candle costs the same as folding one trade, so the
decimal work per trade is done once instead of once per interval.
"""

from __future__ import annotations

from decimal import Decimal

from cryptoviz.models import Trade

ZERO = Decimal(0)


class Run:
    """Consecutive trades of one symbol in one window of the finest interval, with
    increasing ids, pre-folded once: coarser intervals then fold runs, not trades."""

    __slots__ = (
        "close",
        "count",
        "first_id",
        "high",
        "last_id",
        "low",
        "max_time",
        "open",
        "quote",
        "start",
        "stop",
        "taker",
        "volume",
        "window",
    )  # fmt: skip

    def __init__(self, start: int, window: int, trade: Trade, quote: Decimal) -> None:
        self.start = start
        self.stop = start + 1
        self.window = window
        self.max_time = trade.time
        self.first_id = self.last_id = trade.trade_id
        self.open = self.high = self.low = self.close = trade.price
        self.volume = trade.quantity
        self.quote = quote
        self.taker = ZERO if trade.buyer_is_maker else trade.quantity
        self.count = trade.count


def fold_into_runs(group: list[Trade], quotes: list[Decimal], fine: int) -> list[Run]:
    """Split a symbol's trades into runs (see `Run`); one pass of decimal work per trade."""
    runs: list[Run] = []
    count = len(group)
    i = 0
    while i < count:
        trade = group[i]
        run = Run(i, trade.time - trade.time % fine, trade, quotes[i])
        runs.append(run)
        window, end = run.window, run.window + fine
        high, low, close, last_id, max_time = run.high, run.low, run.close, run.last_id, run.max_time
        volume, quote, taker, trades = run.volume, run.quote, run.taker, run.count
        i += 1
        while i < count:
            trade = group[i]
            time = trade.time
            if not (window <= time < end and trade.trade_id > last_id):
                break
            price = trade.price
            if price > high:
                high = price
            elif price < low:
                low = price
            close = price
            volume += trade.quantity
            quote += quotes[i]
            if not trade.buyer_is_maker:
                taker += trade.quantity
            trades += trade.count
            last_id = trade.trade_id
            if time > max_time:
                max_time = time
            i += 1
        run.stop = i
        run.high, run.low, run.close, run.last_id, run.max_time = high, low, close, last_id, max_time
        run.volume, run.quote, run.taker, run.count = volume, quote, taker, trades
    return runs
