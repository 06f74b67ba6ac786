"""CandleAggregator rules: windows, flat candles, duplicates, late trades, restore, clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cryptoviz.market.candles import CandleAggregator
from cryptoviz.models import Candle, Trade


def trade(
    trade_id: int, time: int, price: str = "10", qty: str = "1", maker: bool = False, count: int = 1
) -> Trade:
    return Trade("x", "AAA", trade_id, Decimal(price), Decimal(qty), time, maker, count)


def test_first_trade_opens_a_forming_candle_per_interval() -> None:
    agg = CandleAggregator(["1s", "1m"])
    out = agg.add([trade(1, 61_500, "10.5", "2")])
    assert {(c.interval, c.open_time, c.closed) for c in out} == {
        ("1s", 61_000, False),
        ("1m", 60_000, False),
    }
    assert all(c.quote_volume == Decimal("21.0") and c.taker_buy_volume == 2 for c in out)


def test_window_end_is_exclusive_and_gaps_become_flat_candles() -> None:
    agg = CandleAggregator(["1s"])
    agg.add([trade(1, 1_000, "10"), trade(2, 1_999, "12", maker=True)])
    out = agg.add([trade(3, 5_000, "11")])
    closed = [c for c in out if c.closed]
    assert [c.open_time for c in closed] == [1_000, 2_000, 3_000, 4_000]
    first, *flats = closed
    assert (first.open, first.high, first.low, first.close, first.trades) == (10, 12, 10, 12, 2)
    assert first.taker_buy_volume == 1
    for flat in flats:
        assert (flat.open, flat.high, flat.low, flat.close) == (12, 12, 12, 12)
        assert (flat.volume, flat.trades, flat.quote_volume) == (0, 0, 0)
    (forming,) = [c for c in out if not c.closed]
    assert (forming.open_time, forming.open) == (5_000, 11)


def test_updates_are_coalesced_per_call() -> None:
    agg = CandleAggregator(["1m"])
    out = agg.add([trade(i, 1_000 + i) for i in range(1, 50)])
    assert len(out) == 1
    assert out[0].trades == 49


def test_published_candles_are_snapshots() -> None:
    agg = CandleAggregator(["1m"])
    (first,) = agg.add([trade(1, 1_000, "10")])
    agg.add([trade(2, 2_000, "20")])
    assert first.close == 10
    assert first.trades == 1


def test_repeated_and_older_trade_ids_count_once() -> None:
    agg = CandleAggregator(["1m"])
    agg.add([trade(1, 1_000), trade(2, 2_000)])
    assert agg.add([trade(2, 2_000), trade(1, 1_000)]) == []
    forming = agg.forming("AAA", "1m")
    assert forming is not None
    assert forming.trades == 2
    assert agg.duplicates == 2


def test_aggtrade_counts_its_raw_trades() -> None:
    agg = CandleAggregator(["1m"])
    (c,) = agg.add([trade(1, 1_000, count=5), trade(2, 1_001, count=2)])
    assert c.trades == 7


def test_late_trade_within_grace_amends_the_closed_candle() -> None:
    agg = CandleAggregator(["1s"], grace_ms=500)
    agg.add([trade(1, 1_000, "10")])
    agg.add([trade(2, 2_100, "11")])  # closes [1000, 2000)
    out = agg.add([trade(3, 1_900, "9")])  # late, 100 ms after the window end
    (amended,) = out
    assert (amended.open_time, amended.low, amended.close, amended.trades, amended.closed) == (
        1_000,
        9,
        9,
        2,
        True,
    )


def test_late_trade_beyond_grace_is_dropped_and_counted() -> None:
    agg = CandleAggregator(["1s"], grace_ms=500)
    agg.add([trade(1, 1_000)])
    agg.add([trade(2, 2_900)])
    assert agg.add([trade(3, 1_500)]) == []
    assert agg.late_dropped == 1


def test_restore_resumes_each_series_after_its_last_trade() -> None:
    agg = CandleAggregator(["1s", "1m"])
    agg.add([trade(1, 1_000), trade(2, 1_500)])
    stored = [c for c in (agg.forming("AAA", "1s"), agg.forming("AAA", "1m")) if c is not None]
    resumed = CandleAggregator(["1s", "1m"])
    resumed.restore(stored)
    assert resumed.watermark("AAA") == 2
    resumed.add([trade(1, 1_000), trade(2, 1_500), trade(3, 1_600)])
    forming = resumed.forming("AAA", "1m")
    assert forming is not None
    assert forming.trades == 3


def test_watermark_is_none_until_every_series_has_a_candle() -> None:
    agg = CandleAggregator(["1s", "1m"])
    agg.restore([Candle("AAA", "1s", 0, *(Decimal(1),) * 5, 1, Decimal(1), Decimal(0), False, 7)])
    assert agg.watermark("AAA") is None


def test_clock_closes_after_the_grace() -> None:
    agg = CandleAggregator(["1s"], grace_ms=200)
    agg.add([trade(1, 1_000)])
    assert agg.close_due({"AAA": 2_100}) == []
    (closed,) = agg.close_due({"AAA": 2_200})
    assert closed.closed
    assert closed.open_time == 1_000
    assert agg.close_due({"AAA": 9_999}) == []  # closes once


def test_trade_for_a_clock_closed_window_still_counts() -> None:
    agg = CandleAggregator(["1s"], grace_ms=0)
    agg.add([trade(1, 1_000)])
    agg.close_due({"AAA": 2_000})
    (c,) = agg.add([trade(2, 1_999)])
    assert c.closed
    assert c.trades == 2


def test_unknown_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="2m"):
        CandleAggregator(["1m", "2m"])


def test_results_are_exact_or_raise() -> None:
    agg = CandleAggregator(["1m"])
    (c,) = agg.add([trade(1, 0, "0.1", "0.2"), trade(2, 1, "0.1", "0.1")])
    assert c.volume == Decimal("0.3")
    assert c.quote_volume == Decimal("0.03")


def test_a_symbol_takes_its_candles_from_one_exchange() -> None:
    agg = CandleAggregator(["1m"])
    agg.add([trade(100, 1_000)])
    other = Trade("elsewhere", "AAA", 1, Decimal(99), Decimal(1), 2_000, False)
    assert agg.add([other, trade(101, 3_000)])[0].trades == 2
    assert agg.other_exchange == 1


def test_a_very_long_silence_fills_only_the_most_recent_windows() -> None:
    agg = CandleAggregator(["1s"], max_gap_fill=10)
    agg.add([trade(1, 0)])
    out = agg.add([trade(2, 1_000_000)])
    flats = [c for c in out if c.closed and c.trades == 0]
    assert [c.open_time for c in flats] == list(range(990_000, 1_000_000, 1_000))
    assert agg.gaps_truncated == 1
