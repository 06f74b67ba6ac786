"""Trades -> candles for several intervals, exactly as the exchange builds its klines.

Windows are `[t, t + interval)` in trade time, aligned on the UTC epoch. A window with
no trades becomes a flat candle at the previous close, so each series is continuous
from its first trade. Arithmetic runs in a decimal context that traps any rounding:
a result that cannot be exact raises instead of drifting.
"""

from __future__ import annotations

import decimal
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal

from cryptoviz.market.runs import Run, fold_into_runs
from cryptoviz.models import INTERVALS, Candle, Trade

EXACT = decimal.Context(
    prec=400,  # parsers bound inputs to 30 digits within 1e-30..1e30: sums of products fit
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.Inexact, decimal.Overflow, decimal.InvalidOperation, decimal.DivisionByZero],
)
ZERO = Decimal(0)
log = logging.getLogger(__name__)


class _Series:
    """One (symbol, interval): the forming candle and the one closed just before it."""

    __slots__ = ("amended", "current", "length", "previous")

    def __init__(self, length: int) -> None:
        self.length = length
        self.current: Candle | None = None
        self.previous: Candle | None = None
        self.amended = False
        """The forming candle got trades after the clock closed it: publish it again on roll."""


class CandleAggregator:
    """Folds trades into candles; `add` returns what changed, coalesced per call.

    Each returned list holds every candle that closed during the call (flat ones
    included) and one snapshot of each forming candle that changed.
    """

    def __init__(
        self,
        intervals: Sequence[str] = tuple(INTERVALS),
        grace_ms: int = 2000,
        max_gap_fill: int = 200_000,
        *,
        fold_runs: bool = True,
    ) -> None:
        """`fold_runs=False` folds every trade into every interval: the plain reference
        path, several times slower, which tests compare the run path against."""
        unknown = [i for i in intervals if i not in INTERVALS]
        if unknown:
            raise ValueError(f"unknown intervals {unknown}; expected some of {list(INTERVALS)}")
        self.intervals = tuple(sorted(set(intervals), key=INTERVALS.__getitem__))
        self.grace_ms = grace_ms
        self.max_gap_fill = max_gap_fill
        self.fold_runs = fold_runs
        self._owner: dict[str, str] = {}
        """The exchange whose trades make each symbol's candles (ids are only ordered per exchange)."""
        self._series: dict[str, list[_Series]] = {}
        self._latest_time: dict[str, int] = {}
        self.late_dropped = 0
        self.duplicates = 0
        self.other_exchange = 0
        self.gaps_truncated = 0

    def _series_of(self, symbol: str) -> list[_Series]:
        series = self._series.get(symbol)
        if series is None:
            series = [_Series(INTERVALS[i]) for i in self.intervals]
            self._series[symbol] = series
        return series

    def restore(self, candles: Iterable[Candle], exchange: str | None = None) -> None:
        """Resume from stored candles: the newest of each (symbol, interval)."""
        for candle in candles:
            if exchange is not None:
                self._owner.setdefault(candle.symbol, exchange)
            if candle.interval not in self.intervals:
                continue
            series = self._series_of(candle.symbol)[self.intervals.index(candle.interval)]
            if series.current is None or candle.open_time > series.current.open_time:
                series.current = candle.copy()
                self._latest_time[candle.symbol] = max(
                    self._latest_time.get(candle.symbol, 0), candle.open_time
                )

    def watermark(self, symbol: str) -> int | None:
        """The smallest newest-trade-id over the symbol's series; None if any series is empty."""
        series = self._series.get(symbol)
        if not series or any(s.current is None for s in series):
            return None
        return min(s.current.last_trade_id for s in series if s.current is not None)

    def symbols(self) -> list[str]:
        return list(self._series)

    def forming(self, symbol: str, interval: str) -> Candle | None:
        series = self._series.get(symbol)
        if series is None or interval not in self.intervals:
            return None
        current = series[self.intervals.index(interval)].current
        return None if current is None else current.copy()

    def add(self, trades: Sequence[Trade]) -> list[Candle]:
        out: list[Candle] = []
        groups: dict[str, list[Trade]] = {}
        owners = self._owner
        for trade in trades:
            group = groups.get(trade.symbol)
            if group is None:
                group = groups[trade.symbol] = []
            if owners.setdefault(trade.symbol, trade.exchange) == trade.exchange:
                group.append(trade)
            else:
                self._other_exchange(trade)
        for symbol in [s for s, g in groups.items() if not g]:
            del groups[symbol]
        with decimal.localcontext(EXACT):
            for symbol, group in groups.items():
                quotes = [t.price * t.quantity for t in group]
                latest = self._latest_time.get(symbol, group[0].time)
                all_series = self._series_of(symbol)
                if self.fold_runs:
                    runs = fold_into_runs(group, quotes, all_series[0].length)
                    for series in all_series:
                        self._fold_runs(series, runs, group, quotes, latest, out)
                else:
                    for series in all_series:
                        if self._fold(series, group, quotes, latest, out) and series.current is not None:
                            out.append(series.current.copy())
                self._latest_time[symbol] = max(latest, max(t.time for t in group))
        return out

    def _fold_runs(
        self,
        series: _Series,
        runs: list[Run],
        group: list[Trade],
        quotes: list[Decimal],
        latest: int,
        out: list[Candle],
    ) -> None:
        """Fold runs into one series. A run holding ids the series already counted (a
        redelivery, a restart's overlap) takes the per-trade path, which skips them."""
        length = series.length
        dirty = False
        seen = latest
        for run in runs:
            before = seen
            if run.max_time > seen:
                seen = run.max_time
            current = series.current
            if current is not None and run.first_id <= current.last_trade_id:
                trades = group[run.start : run.stop]
                dirty |= self._fold(series, trades, quotes[run.start : run.stop], before, out)
                continue
            start = run.window - run.window % length
            if current is None or start > current.open_time:
                if current is not None:
                    self._roll(series, start, out)
                series.current = Candle(
                    symbol=group[run.start].symbol, interval=_NAMES[length], open_time=start,
                    open=run.open, high=run.high, low=run.low, close=run.close, volume=run.volume,
                    trades=run.count, quote_volume=run.quote, taker_buy_volume=run.taker, closed=False,
                    last_trade_id=run.last_id,
                )  # fmt: skip
            elif start == current.open_time:
                series.amended |= current.closed
                if run.high > current.high:
                    current.high = run.high
                if run.low < current.low:
                    current.low = run.low
                current.close = run.close
                current.volume += run.volume
                current.quote_volume += run.quote
                current.taker_buy_volume += run.taker
                current.trades += run.count
                current.last_trade_id = run.last_id
            else:
                self._late_run(series, run, start, seen, out)
                continue
            dirty = True
        if dirty and series.current is not None:
            out.append(series.current.copy())

    def _late_run(self, series: _Series, run: Run, start: int, latest: int, out: list[Candle]) -> None:
        """A run for an earlier window: amend the candle closed just before, within the grace."""
        current = series.current
        assert current is not None
        current.last_trade_id = run.last_id
        previous = series.previous
        if previous is None or previous.open_time != start or latest - start - series.length > self.grace_ms:
            self.late_dropped += run.stop - run.start
            return
        previous.high = max(previous.high, run.high)
        previous.low = min(previous.low, run.low)
        previous.close = run.close
        previous.volume += run.volume
        previous.quote_volume += run.quote
        previous.taker_buy_volume += run.taker
        previous.trades += run.count
        previous.last_trade_id = run.last_id
        out.append(previous.copy())  # an amended closed candle is published again

    def _fold(
        self,
        series: _Series,
        group: list[Trade],
        quotes: list[Decimal],
        latest: int,
        out: list[Candle],
    ) -> bool:
        """Fold a symbol's trades into one series. The forming candle's fields live in locals
        while trades stay in its window: this loop runs once per trade per interval."""
        length = series.length
        count = len(group)
        dirty = False
        i = 0
        while i < count:
            current = series.current
            if current is None:
                trade = group[i]
                series.current = self._open(trade, length, trade.time - trade.time % length, quotes[i])
                dirty = True
                i += 1
                continue
            window, end = current.open_time, current.open_time + length
            high, low, close = current.high, current.low, current.close
            volume, quote_volume, taker = current.volume, current.quote_volume, current.taker_buy_volume
            trades, last_id = current.trades, current.last_trade_id
            while i < count:
                trade = group[i]
                if trade.trade_id <= last_id:
                    self.duplicates += 1
                elif window <= trade.time < end:
                    price = trade.price
                    if price > high:
                        high = price
                    elif price < low:
                        low = price
                    close = price
                    volume += trade.quantity
                    quote_volume += quotes[i]
                    if not trade.buyer_is_maker:
                        taker += trade.quantity
                    trades += trade.count
                    last_id = trade.trade_id
                    dirty = True
                else:
                    break
                i += 1
            if current.closed and last_id != current.last_trade_id:
                series.amended = True
            current.high, current.low, current.close = high, low, close
            current.volume, current.quote_volume, current.taker_buy_volume = volume, quote_volume, taker
            current.trades, current.last_trade_id = trades, last_id
            if i < count:  # a trade outside the forming window
                trade = group[i]
                start = trade.time - trade.time % length
                if start > window:
                    self._roll(series, start, out)
                    series.current = self._open(trade, length, start, quotes[i])
                    dirty = True
                else:
                    seen = max(latest, *(t.time for t in group[: i + 1]))
                    self._late(series, trade, quotes[i], start, seen, out)
                i += 1
        return dirty

    def _late(
        self, series: _Series, trade: Trade, quote: Decimal, start: int, latest: int, out: list[Candle]
    ) -> None:
        """A trade for an earlier window: amend the candle closed just before, within the grace."""
        current = series.current
        assert current is not None
        current.last_trade_id = trade.trade_id
        previous = series.previous
        if previous is None or previous.open_time != start or latest - start - series.length > self.grace_ms:
            self.late_dropped += 1
            return
        price = trade.price
        previous.high = max(previous.high, price)
        previous.low = min(previous.low, price)
        previous.close = price
        previous.volume += trade.quantity
        previous.quote_volume += quote
        if not trade.buyer_is_maker:
            previous.taker_buy_volume += trade.quantity
        previous.trades += trade.count
        previous.last_trade_id = trade.trade_id
        out.append(previous.copy())  # an amended closed candle is published again

    def _other_exchange(self, trade: Trade) -> None:
        if not self.other_exchange:
            log.warning(
                "candles of %s come from %s: ignoring its trades from %s (counted as other_exchange)",
                trade.symbol, self._owner[trade.symbol], trade.exchange,
            )  # fmt: skip
        self.other_exchange += 1

    def _open(self, trade: Trade, length: int, start: int, quote: Decimal) -> Candle:
        qty = trade.quantity
        return Candle(
            symbol=trade.symbol,
            interval=_NAMES[length],
            open_time=start,
            open=trade.price,
            high=trade.price,
            low=trade.price,
            close=trade.price,
            volume=qty,
            trades=trade.count,
            quote_volume=quote,
            taker_buy_volume=ZERO if trade.buyer_is_maker else qty,
            closed=False,
            last_trade_id=trade.trade_id,
        )

    def _roll(self, series: _Series, start: int, out: list[Candle]) -> None:
        """Close the forming candle and fill the empty windows up to `start` with flat ones."""
        current = series.current
        assert current is not None
        if not current.closed or series.amended:
            current.closed = True
            out.append(current.copy())
            series.amended = False
        close = current.close
        first = current.open_time + series.length
        if (start - first) // series.length > self.max_gap_fill:
            self.gaps_truncated += 1
            log.warning(
                "%s %s: %d empty windows, only the last %d get flat candles",
                current.symbol, current.interval, (start - first) // series.length, self.max_gap_fill,
            )  # fmt: skip
            first = start - self.max_gap_fill * series.length
        for open_time in range(first, start, series.length):
            out.append(
                Candle(current.symbol, current.interval, open_time, close, close, close, close, ZERO, 0,
                       ZERO, ZERO, True, current.last_trade_id)
            )  # fmt: skip
        series.previous = current

    def close_due(self, now_by_symbol: dict[str, int]) -> list[Candle]:
        """Close forming candles whose window ended more than the grace before `now`."""
        out: list[Candle] = []
        for symbol, now in now_by_symbol.items():
            for series in self._series.get(symbol, ()):
                current = series.current
                due = current is not None and now >= current.open_time + series.length + self.grace_ms
                if due and current is not None and not current.closed:
                    current.closed = True
                    out.append(current.copy())
        return out


_NAMES = {length: name for name, length in INTERVALS.items()}
