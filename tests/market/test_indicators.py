"""Incremental indicators against TA-Lib itself, bit for bit, and the series' replace/resume rules."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import msgspec
import numpy as np
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoviz.market.indicators import (
    STATE_VERSION,
    IndicatorParams,
    IndicatorSeries,
    SavedSeries,
    exact_fma,
    fma,
    split_fma,
)
from cryptoviz.models import IndicatorPoint

FIELDS = {
    "rsi": ("value",),
    "macd": ("value", "signal", "histogram"),
    "bollinger": ("value", "upper", "lower"),
    "momentum": ("value",),
}


def talib_columns(closes: list[float], p: IndicatorParams) -> dict[str, dict[str, np.ndarray]]:
    """TA-Lib's outputs per indicator type, named like IndicatorPoint's fields."""
    x = np.array(closes, dtype=np.float64)
    macd, signal, histogram = talib.MACD(x, p.macd_fast, p.macd_slow, p.macd_signal)
    upper, middle, lower = talib.BBANDS(x, p.bollinger, p.bollinger_stddev, p.bollinger_stddev, 0)
    return {
        "rsi": {"value": talib.RSI(x, p.rsi)},
        "macd": {"value": macd, "signal": signal, "histogram": histogram},
        "bollinger": {"value": middle, "upper": upper, "lower": lower},
        "momentum": {"value": talib.MOM(x, p.momentum)},
    }


def incremental(closes: list[float], p: IndicatorParams) -> dict[str, dict[str, np.ndarray]]:
    """The same columns from a series fed one close at a time (NaN where it gave no point)."""
    series = IndicatorSeries("SYM", "1m", p)
    out = {kind: {f: np.full(len(closes), np.nan) for f in fields} for kind, fields in FIELDS.items()}
    for i, close in enumerate(closes):
        for point in series.take(i, close):
            assert point.final
            for field in FIELDS[point.type]:
                out[point.type][field][i] = getattr(point, field)
    return out


def assert_identical(
    got: dict[str, dict[str, np.ndarray]], expected: dict[str, dict[str, np.ndarray]]
) -> None:
    for kind, fields in FIELDS.items():
        for field in fields:
            a, b = got[kind][field], expected[kind][field]
            assert np.array_equal(np.isnan(a), np.isnan(b)), (kind, field, "first point differs")
            differ = np.flatnonzero(a[~np.isnan(a)] != b[~np.isnan(b)])
            assert differ.size == 0, (
                kind,
                field,
                differ[:5],
                a[~np.isnan(a)][differ[:3]],
                b[~np.isnan(b)][differ[:3]],
            )


def random_walk(n: int, scale: float, seed: int) -> list[float]:
    """A price walk with flat stretches, like candles of a quiet market."""
    rng = random.Random(seed)
    closes = [scale]
    while len(closes) < n:
        if rng.random() < 0.2:
            closes += [closes[-1]] * rng.randint(1, 40)
        else:
            closes.append(closes[-1] * (1 + rng.gauss(0, 0.002)))
    return closes[:n]


@pytest.mark.parametrize("scale", [0.0014, 1.0, 64_000.0])
def test_default_periods_equal_talib_bit_for_bit(scale: float) -> None:
    closes = random_walk(6000, scale, seed=int(scale * 10))
    assert_identical(incremental(closes, IndicatorParams()), talib_columns(closes, IndicatorParams()))


def test_first_points_appear_where_talib_first_does() -> None:
    got = incremental(random_walk(100, 1.0, 7), IndicatorParams())
    first = {kind: int(np.flatnonzero(~np.isnan(cols["value"]))[0]) for kind, cols in got.items()}
    assert first == {"rsi": 14, "macd": 33, "bollinger": 19, "momentum": 10}


def test_flat_series_and_tiny_prices_follow_talib() -> None:
    """No change at all reads RSI 0 and zero-width bands; changes far below 1e-8 still count."""
    flat = [1.5] * 60
    tiny = [1e-9 + k * 1e-17 for k in (0, 1, 0, 2, 3, 1, 1, 4, 2, 5, 3, 3, 6, 2, 1, 4, 7, 5, 8, 6, 9) * 3]
    for closes in (flat, tiny, flat[:20] + tiny):
        assert_identical(incremental(closes, IndicatorParams()), talib_columns(closes, IndicatorParams()))
    rsi = incremental(flat, IndicatorParams())["rsi"]["value"]
    assert set(rsi[14:]) == {0.0}


prices = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def params_and_closes(draw: st.DrawFn) -> tuple[IndicatorParams, list[float]]:
    fast = draw(st.integers(2, 20))
    params = IndicatorParams(
        rsi=draw(st.integers(2, 30)),
        macd_fast=fast,
        macd_slow=draw(st.integers(fast + 1, 40)),
        macd_signal=draw(st.integers(2, 12)),
        bollinger=draw(st.integers(2, 30)),
        bollinger_stddev=draw(st.sampled_from([0.5, 1.0, 2.0, 2.5])),
        momentum=draw(st.integers(1, 20)),
    )
    steps = draw(st.lists(st.tuples(prices, st.integers(1, 6)), max_size=60))
    closes = [price for price, repeat in steps for _ in range(repeat)]  # runs of equal closes
    return params, closes


@settings(max_examples=150, deadline=None)
@given(params_and_closes())
def test_any_periods_and_closes_equal_talib_bit_for_bit(case: tuple[IndicatorParams, list[float]]) -> None:
    params, closes = case
    assert_identical(incremental(closes, params), talib_columns(closes, params))


def test_a_candle_taken_again_replaces_the_last_step() -> None:
    closes = random_walk(300, 2.0, 3)
    series = IndicatorSeries("SYM", "1m", IndicatorParams())
    straight = IndicatorSeries("SYM", "1m", IndicatorParams())
    for i, close in enumerate(closes):
        first = series.take(i * 60_000, close * 1.01)  # a first version, amended just after
        assert series.take(i * 60_000, close) == straight.take(i * 60_000, close)
        assert len(first) == len(series.take(i * 60_000, close))
    assert series.dump() == straight.dump()


def test_an_older_candle_is_ignored() -> None:
    series = IndicatorSeries("SYM", "1m", IndicatorParams())
    for i in range(40):
        series.take(i * 60_000, 1.0 + i)
    before = series.dump()
    assert series.take(30 * 60_000, 99.0) == []
    assert series.dump() == before


def test_provisional_points_leave_the_state_alone_and_preview_the_close() -> None:
    series = IndicatorSeries("SYM", "1m", IndicatorParams())
    for i in range(50):
        series.take(i * 60_000, 10.0 + math.sin(i))
    before = series.dump()
    preview = series.provisional(50 * 60_000, 11.5)
    assert series.dump() == before
    assert [p.type for p in preview] == ["rsi", "macd", "bollinger", "momentum"]
    assert all(not p.final for p in preview)
    final = series.take(50 * 60_000, 11.5)
    assert preview == [msgspec.structs.replace(p, final=False) for p in final]
    assert series.provisional(50 * 60_000, 12.0) == []  # that candle is closed now


def test_a_dumped_series_resumes_exactly() -> None:
    closes = random_walk(3000, 0.5, 11)
    whole = incremental(closes, IndicatorParams())
    series = IndicatorSeries("SYM", "1m", IndicatorParams())
    resumed = {kind: {f: np.full(len(closes), np.nan) for f in fields} for kind, fields in FIELDS.items()}
    for i, close in enumerate(closes):
        if i % 97 == 0:
            series = IndicatorSeries.load("SYM", "1m", IndicatorParams(), series.dump())
        for point in series.take(i, close):
            for field in FIELDS[point.type]:
                resumed[point.type][field][i] = getattr(point, field)
    assert_identical(resumed, whole)


def test_a_resumed_series_can_still_replace_its_last_candle() -> None:
    series = IndicatorSeries("SYM", "1m", IndicatorParams())
    for i in range(60):
        series.take(i, 5.0 + (i % 7))
    resumed = IndicatorSeries.load("SYM", "1m", IndicatorParams(), series.dump())
    assert resumed.take(59, 4.0) == series.take(59, 4.0)
    assert resumed.dump() == series.dump()


def test_a_state_of_other_periods_or_version_or_garbage_is_refused() -> None:
    series = IndicatorSeries("SYM", "1m", IndicatorParams())
    series.take(0, 1.0)
    blob = series.dump()
    with pytest.raises(ValueError, match="other periods"):
        IndicatorSeries.load("SYM", "1m", IndicatorParams(rsi=7), blob)
    saved = msgspec.msgpack.decode(blob, type=SavedSeries)
    newer = msgspec.msgpack.encode(msgspec.structs.replace(saved, version=STATE_VERSION + 1))
    with pytest.raises(ValueError, match="version"):
        IndicatorSeries.load("SYM", "1m", IndicatorParams(), newer)
    with pytest.raises(ValueError, match="unreadable"):
        IndicatorSeries.load("SYM", "1m", IndicatorParams(), b"\x93not a state")


def test_the_state_stays_the_same_size_however_long_the_series() -> None:
    """Constant work per candle: nothing in the state grows with the history."""
    series = IndicatorSeries("SYM", "1s", IndicatorParams())
    closes = random_walk(70_000, 3.0, 5)
    for i, close in enumerate(closes[:100]):
        series.take(i, close)
    early = len(series.dump())
    for i, close in enumerate(closes[100:], start=100):
        series.take(i, close)
    assert len(series.dump()) <= early + 40  # only integers (counters, open time) take more bytes


def test_params_are_checked() -> None:
    with pytest.raises(ValueError, match="fast period"):
        IndicatorParams(macd_fast=26, macd_slow=12)
    with pytest.raises(msgspec.ValidationError, match=">= 2"):
        msgspec.convert({"rsi": 1}, IndicatorParams)


def test_every_fma_rounds_once() -> None:
    """Against the exact rational value: EMA-like steps, near-cancellations, extreme exponents."""
    rng = random.Random(2)
    cases = [
        (1 + 2**-52, 1 - 2**-52, -1.0), (0.1, 10.0, -1.0), (2.0**-600, 2.0**-600, 2.0**-1074),
        (0.0, 5.0, -0.0), (1e300, 1e7, -1e307), (-7.0, 2 / 3, 8.0), (1e-200, 1e-100, 1e-310),
    ]  # fmt: skip
    for _ in range(20_000):
        price = rng.uniform(1e-4, 1e5)
        cases.append((price * rng.gauss(0, 0.01), 2 / rng.randint(3, 60), price))  # (x - ema) * k + ema
        a = rng.uniform(-1, 1) * 2.0 ** rng.randint(-700, 700)
        b = rng.uniform(-1, 1) * 2.0 ** rng.randint(-300, 300)
        cases.append((a, b, -a * b * (1 + rng.uniform(-1e-15, 1e-15))))  # the product nearly cancelled
    for a, b, c in cases:
        exact = float(Fraction(a) * Fraction(b) + Fraction(c))
        assert exact_fma(a, b, c) == exact, (a, b, c)
        assert split_fma(a, b, c) == exact, (a, b, c)
        assert fma(a, b, c) == exact, (a, b, c)
    assert fma(1 + 2**-52, 1 - 2**-52, -1.0) != (1 + 2**-52) * (1 - 2**-52) - 1.0


def test_points_carry_their_fields() -> None:
    series = IndicatorSeries("XRPETH", "1h", IndicatorParams())
    points: list[IndicatorPoint] = []
    for i in range(40):
        points = series.take(i * 3_600_000, 0.0014 + i * 1e-6)
    by_type = {p.type: p for p in points}
    assert by_type["macd"].signal is not None
    assert by_type["macd"].histogram is not None
    assert by_type["macd"].upper is None
    assert by_type["bollinger"].upper is not None
    assert by_type["bollinger"].lower is not None
    assert by_type["bollinger"].signal is None
    assert by_type["rsi"].signal is by_type["rsi"].upper is None
    assert {(p.symbol, p.interval, p.ts) for p in points} == {("XRPETH", "1h", 39 * 3_600_000)}
