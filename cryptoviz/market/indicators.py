"""RSI, MACD, Bollinger bands and momentum, one closed candle at a time.

Each calculator repeats TA-Lib's own arithmetic: the same operations in the same order,
the same seeds and the same first output, so a series fed candle by candle equals TA-Lib
run over the whole history, bit for bit (checked against TA-Lib 0.8 in the tests). That
matters beyond the last digit: Bollinger's variance carries running sums from the series'
first candle, so a series is only TA-Lib's if it never starts from a window.

States are immutable msgspec Structs: a step returns a new state. Keeping the state from
before the last candle (to replace a candle published again with another close) and
computing a provisional value for the forming candle therefore cost no copy, and a state
serialises as is for resuming after a restart. Work per candle is constant: O(1) for RSI
and MACD, a window of `period` closes for Bollinger and momentum.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Final

import msgspec

from cryptoviz.models import IndicatorPoint

STATE_VERSION: Final = 1
_fma: Callable[[float, float, float], float] | None = getattr(math, "fma", None)  # Python >= 3.13


def exact_fma(a: float, b: float, c: float) -> float:
    """`a * b + c` rounded once, from the exact rational value (for Pythons before 3.13)."""
    na, da = a.as_integer_ratio()
    nb, db = b.as_integer_ratio()
    nc, dc = c.as_integer_ratio()
    return (na * nb * dc + nc * da * db) / (da * db * dc)  # int division rounds correctly


_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two halves of 26 bits


def split_fma(a: float, b: float, c: float) -> float:
    """`a * b + c` rounded once, faster than `exact_fma`: Dekker's product gives
    `a * b` exactly as `p + e` where nothing overflows or underflows, and `math.fsum`
    rounds `p + e + c` once. Anything else goes to `exact_fma`."""
    p = a * b
    if 1e-290 < abs(p) < 1e290 and -1e290 < a < 1e290 and -1e290 < b < 1e290:
        t = _SPLIT * a
        ah = t - (t - a)
        al = a - ah
        t = _SPLIT * b
        bh = t - (t - b)
        bl = b - bh
        return math.fsum((p, ((ah * bh - p) + ah * bl + al * bh) + al * bl, c))
    if p == 0.0 and (a == 0.0 or b == 0.0):
        return c + p
    return exact_fma(a, b, c)


fma: Callable[[float, float, float], float] = _fma or split_fma
"""`a * b + c` rounded once, as C's fma(): TA-Lib's EMAs use it."""


Period = Annotated[int, msgspec.Meta(ge=2, le=1000)]


class IndicatorParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Periods of every indicator (TA-Lib's defaults); saved with each series' state."""

    rsi: Period = 14
    macd_fast: Period = 12
    macd_slow: Period = 26
    macd_signal: Period = 9
    bollinger: Period = 20
    bollinger_stddev: Annotated[float, msgspec.Meta(gt=0, le=100)] = 2.0
    momentum: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10

    def __post_init__(self) -> None:
        if self.macd_fast >= self.macd_slow:
            raise ValueError(f"the MACD fast period ({self.macd_fast}) must be below the slow one")


class RsiState(msgspec.Struct, frozen=True, array_like=True, gc=False):
    seen: int = 0
    prev: float = 0.0
    gain: float = 0.0
    loss: float = 0.0


class MacdState(msgspec.Struct, frozen=True, array_like=True, gc=False):
    seen: int = 0
    slow_sum: float = 0.0
    fast_sum: float = 0.0
    slow: float = 0.0
    fast: float = 0.0
    signal_sum: float = 0.0
    signal: float = 0.0


class BollingerState(msgspec.Struct, frozen=True, array_like=True, gc=False):
    seen: int = 0
    window: tuple[float, ...] = ()
    """The last `period - 1` closes."""
    total: float = 0.0
    shift: float = 0.0
    sum1: float = 0.0
    sum2: float = 0.0
    countdown: int = 0
    """Outputs until the shifted sums are rebuilt from the window."""


class MomentumState(msgspec.Struct, frozen=True, array_like=True, gc=False):
    window: tuple[float, ...] = ()
    """The last `period` closes."""


class Rsi:
    """Wilder's RSI: changes' gains and losses averaged over the first `period` changes,
    then smoothed as (previous * (period - 1) + today) / period. TA-Lib scales by a
    precomputed 1 / period, and a series without any change reads 0."""

    def __init__(self, period: int) -> None:
        self.period = period
        self._inverse = 1.0 / period
        self._keep = float(period - 1)

    def step(self, s: RsiState, x: float) -> tuple[RsiState, float | None]:
        seen = s.seen
        if seen == 0:
            return RsiState(1, x), None
        change = x - s.prev
        up = change if change > 0.0 else 0.0
        if seen < self.period:
            return RsiState(seen + 1, x, s.gain + up, s.loss + (up - change)), None
        if seen == self.period:
            gain = (s.gain + up) * self._inverse
            loss = (s.loss + (up - change)) * self._inverse
        else:
            gain = (s.gain * self._keep + up) * self._inverse
            loss = (s.loss * self._keep + (up - change)) * self._inverse
        total = gain + loss
        return RsiState(seen + 1, x, gain, loss), 100.0 * (gain / total) if total > 0.0 else 0.0


class Macd:
    """Both price EMAs start at index slow - 1, each seeded by the mean of its own last
    `period` closes; the signal EMA is seeded by the mean of the first `signal` MACD
    values, and nothing is output before it exists (TA-Lib's lookback). Each EMA step is
    one fused multiply-add, `(x - ema) * k + ema`, as TA-Lib computes it."""

    def __init__(self, fast: int, slow: int, signal: int) -> None:
        self.fast_period, self.slow_period, self.signal_period = fast, slow, signal
        self._kf = 2.0 / (fast + 1)
        self._ks = 2.0 / (slow + 1)
        self._kg = 2.0 / (signal + 1)

    def step(self, s: MacdState, x: float) -> tuple[MacdState, tuple[float, float, float] | None]:
        i = s.seen
        slow_period = self.slow_period
        if i < slow_period - 1:
            fast_sum = s.fast_sum + x if i >= slow_period - self.fast_period else s.fast_sum
            return MacdState(i + 1, s.slow_sum + x, fast_sum), None
        if i == slow_period - 1:
            slow = (s.slow_sum + x) / slow_period
            fast = (s.fast_sum + x) / self.fast_period
        else:
            slow = fma(x - s.slow, self._ks, s.slow)
            fast = fma(x - s.fast, self._kf, s.fast)
        line = fast - slow
        j = i - (slow_period - 1)
        if j < self.signal_period - 1:
            return MacdState(i + 1, 0.0, 0.0, slow, fast, s.signal_sum + line), None
        if j == self.signal_period - 1:
            signal = (s.signal_sum + line) / self.signal_period
        else:
            signal = fma(line - s.signal, self._kg, s.signal)
        return MacdState(i + 1, 0.0, 0.0, slow, fast, 0.0, signal), (line, signal, line - signal)


class Bollinger:
    """Middle band: the simple mean, from a running sum. Bands: +/- k population standard
    deviations, from sums of closes shifted by a recent mean, rebuilt from the window
    every 32 * period outputs or when cancellation threatens (TA-Lib's variance)."""

    def __init__(self, period: int, stddev: float) -> None:
        self.period = period
        self.stddev = stddev
        self._inverse = 1.0 / period

    def step(self, s: BollingerState, x: float) -> tuple[BollingerState, tuple[float, float, float] | None]:
        period, inverse = self.period, self._inverse
        if s.seen < period - 1:
            shift = x if s.seen == 0 else s.shift
            t = x - shift
            return BollingerState(
                s.seen + 1, (*s.window, x), s.total + x, shift, s.sum1 + t, s.sum2 + t * t, 32 * period
            ), None
        window = (*s.window, x)
        shift = s.shift
        total = s.total + x
        t = x - shift
        sum1 = s.sum1 + t
        sum2 = s.sum2 + t * t
        mean1 = sum1 * inverse
        variance = sum2 * inverse - mean1 * mean1
        mean = total / period
        oldest = window[0]
        total -= oldest
        t = oldest - shift
        sum1 -= t
        t *= t
        sum2 -= t
        countdown = s.countdown - 1
        if variance < 0.000001 * (sum2 * inverse) or t > 1000000.0 * sum2 or countdown <= 0:
            countdown = 32 * period
            shift, sum1, sum2, variance = self._reseed(window)
        deviation = math.sqrt(variance) if variance != 0.0 else 0.0
        band = deviation * self.stddev
        state = BollingerState(s.seen + 1, window[1:], total, shift, sum1, sum2, countdown)
        return state, (mean, mean + band, mean - band)

    def _reseed(self, window: tuple[float, ...]) -> tuple[float, float, float, float]:
        """Shift by the window's mean and sum again: the shift, both sums without the
        oldest close, and the variance of the window."""
        inverse = self._inverse
        total = 0.0
        for v in window:
            total += v
        shift = total * inverse
        sum1 = sum2 = 0.0
        for v in window:
            t = v - shift
            sum1 += t
            sum2 += t * t
        mean1 = sum1 * inverse
        variance = sum2 * inverse - mean1 * mean1
        if variance < 0.000000000001 * (sum2 * inverse):
            variance = 0.0
        t = window[0] - shift
        return shift, sum1 - t, sum2 - t * t, variance


class Momentum:
    """x[t] - x[t - period]."""

    def __init__(self, period: int) -> None:
        self.period = period

    def step(self, s: MomentumState, x: float) -> tuple[MomentumState, float | None]:
        window = s.window
        if len(window) < self.period:
            return MomentumState((*window, x)), None
        return MomentumState((*window[1:], x)), x - window[0]


class Snapshot(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """Every indicator's state after the candle opened at `ts` (-1: before any candle)."""

    ts: int = -1
    rsi: RsiState = RsiState()
    macd: MacdState = MacdState()
    bollinger: BollingerState = BollingerState()
    momentum: MomentumState = MomentumState()


class SavedSeries(msgspec.Struct, frozen=True):
    """What is stored per series: enough to resume, and to replace the last candle."""

    version: int
    params: IndicatorParams
    last: Snapshot
    before: Snapshot


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(SavedSeries)


class IndicatorSeries:
    """One (symbol, interval): the state after the last closed candle, and before it.

    `take` folds a closed candle in. The same open time again (an amended candle, or one
    redelivered after a restart) replaces the last candle; an older one is ignored.
    """

    __slots__ = ("_bollinger", "_macd", "_momentum", "_rsi", "before", "interval", "last", "params", "symbol")

    def __init__(self, symbol: str, interval: str, params: IndicatorParams) -> None:
        self.symbol = symbol
        self.interval = interval
        self.params = params
        self._rsi = Rsi(params.rsi)
        self._macd = Macd(params.macd_fast, params.macd_slow, params.macd_signal)
        self._bollinger = Bollinger(params.bollinger, params.bollinger_stddev)
        self._momentum = Momentum(params.momentum)
        self.last = Snapshot()
        self.before = Snapshot()

    @property
    def last_ts(self) -> int:
        """Open time of the last candle taken; -1 before any."""
        return self.last.ts

    def take(self, ts: int, close: float) -> list[IndicatorPoint]:
        """Fold in the closed candle opened at `ts`; its final points (none while warming up)."""
        if ts < self.last.ts:
            return []
        base = self.before if ts == self.last.ts else self.last
        snapshot, points = self._step(base, ts, close, final=True)
        self.before, self.last = base, snapshot
        return points

    def provisional(self, ts: int, close: float) -> list[IndicatorPoint]:
        """Points as if the forming candle closed at `close`; the state is left as it was."""
        if ts <= self.last.ts:
            return []
        return self._step(self.last, ts, close, final=False)[1]

    def _step(self, s: Snapshot, ts: int, x: float, *, final: bool) -> tuple[Snapshot, list[IndicatorPoint]]:
        symbol, interval = self.symbol, self.interval
        rsi, rsi_value = self._rsi.step(s.rsi, x)
        macd, macd_value = self._macd.step(s.macd, x)
        bollinger, bands = self._bollinger.step(s.bollinger, x)
        momentum, momentum_value = self._momentum.step(s.momentum, x)
        points: list[IndicatorPoint] = []
        if rsi_value is not None:
            points.append(
                IndicatorPoint(symbol, interval, "rsi", ts, rsi_value, None, None, None, None, final)
            )
        if macd_value is not None:
            line, signal, histogram = macd_value
            points.append(
                IndicatorPoint(symbol, interval, "macd", ts, line, signal, histogram, None, None, final)
            )
        if bands is not None:
            middle, upper, lower = bands
            points.append(
                IndicatorPoint(symbol, interval, "bollinger", ts, middle, None, None, upper, lower, final)
            )
        if momentum_value is not None:
            points.append(
                IndicatorPoint(
                    symbol, interval, "momentum", ts, momentum_value, None, None, None, None, final
                )
            )
        return Snapshot(ts, rsi, macd, bollinger, momentum), points

    def dump(self) -> bytes:
        return _ENCODER.encode(SavedSeries(STATE_VERSION, self.params, self.last, self.before))

    @classmethod
    def load(cls, symbol: str, interval: str, params: IndicatorParams, blob: bytes) -> IndicatorSeries:
        """Resume a dumped series. ValueError when the blob is unreadable, from another
        version or computed with other periods: the series must then be rebuilt."""
        try:
            saved = _DECODER.decode(blob)
        except msgspec.DecodeError as exc:
            raise ValueError(f"unreadable indicator state: {exc}") from None
        if saved.version != STATE_VERSION:
            raise ValueError(f"indicator state version {saved.version}, expected {STATE_VERSION}")
        if saved.params != params:
            raise ValueError(f"indicator state computed with other periods ({saved.params})")
        series = cls(symbol, interval, params)
        series.last, series.before = saved.last, saved.before
        return series
