"""The run path (trades pre-folded per window of the finest interval) against the
reference path (every trade into every interval), on arbitrary trade streams."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoviz.market.candles import CandleAggregator
from cryptoviz.models import Candle, Trade

_trade = st.builds(
    lambda sym, tid, time, price, qty, maker, count: Trade(
        "x", sym, tid, Decimal(price) / 100, Decimal(qty) / 1000, time, maker, count
    ),
    st.sampled_from(["AAA", "BBB"]),
    st.integers(0, 60),  # small ids: repeats and reorderings are frequent
    # Dense trades over 20 s (late trades land in the window just closed) and sparse ones
    # over an hour (every interval rolls, long gaps get flat candles).
    st.one_of(st.integers(0, 20_000), st.integers(0, 4_000_000)),
    st.integers(1, 10_000),
    st.integers(0, 5_000),
    st.booleans(),
    st.integers(1, 3),
)


def _sorted_ids(trades: list[Trade]) -> list[Trade]:
    """Ids rising with time, as exchanges give them, then left as drawn where equal."""
    ordered = sorted(trades, key=lambda t: t.time)
    return [Trade(t.exchange, t.symbol, i, t.price, t.quantity, t.time, t.buyer_is_maker, t.count)
            for i, t in enumerate(ordered)]  # fmt: skip


def _run(agg: CandleAggregator, batches: list[list[Trade]]) -> dict[tuple[str, str, int], Candle]:
    last: dict[tuple[str, str, int], Candle] = {}
    for batch in batches:
        for candle in agg.add(batch):
            last[(candle.symbol, candle.interval, candle.open_time)] = candle
    return last


def _batches(trades: list[Trade], cuts: list[int]) -> list[list[Trade]]:
    bounds = sorted({0, len(trades), *(c % (len(trades) + 1) for c in cuts)})
    return [trades[a:b] for a, b in pairwise(bounds)]


@settings(max_examples=250, deadline=None)
@given(
    trades=st.lists(_trade, max_size=120),
    cuts=st.lists(st.integers(0, 200), max_size=6),
    late=st.lists(st.tuples(st.integers(0, 119), st.integers(1, 4), st.integers(1, 2500)), max_size=8),
    repeats=st.lists(st.integers(0, 119), max_size=10),
    intervals=st.sets(st.sampled_from(["1s", "5s", "1m", "15m", "1h"]), min_size=1),
    grace=st.sampled_from([0, 500, 2000]),
)
def test_run_path_equals_the_reference_path(
    trades: list[Trade],
    cuts: list[int],
    late: list[tuple[int, int, int]],
    repeats: list[int],
    intervals: set[str],
    grace: int,
) -> None:
    # Mostly ordered streams with bursts of late trades (times moved back, ids kept) and
    # redeliveries, plus the raw draw itself, which is disordered in ids and times.
    stream = _sorted_ids(trades)
    for index, length, shift in late:
        for t in stream[index : index + length]:
            stream[stream.index(t)] = Trade(t.exchange, t.symbol, t.trade_id, t.price, t.quantity,
                                            max(0, t.time - shift), t.buyer_is_maker, t.count)  # fmt: skip
    for index in repeats:
        if index < len(stream):
            stream.insert(min(len(stream), index + 5), stream[index])
    for case in (stream, trades):
        runs = CandleAggregator(sorted(intervals), grace)
        reference = CandleAggregator(sorted(intervals), grace, fold_runs=False)
        batches = _batches(case, cuts)
        assert _run(runs, batches) == _run(reference, batches)
        for symbol in ("AAA", "BBB"):
            for interval in intervals:
                assert runs.forming(symbol, interval) == reference.forming(symbol, interval)
        assert (runs.duplicates, runs.late_dropped) == (reference.duplicates, reference.late_dropped)
