"""Simulator: seeded, exact decimal prices, realistic sizes, ids that continue after a restart."""

from __future__ import annotations

import random
from decimal import Decimal

from cryptoviz_plugins.simulator import _poisson, _Walk


def _walk(seed: int, symbol: str = "BTCUSDT", next_id: int = 1) -> _Walk:
    return _Walk(symbol, random.Random(seed), next_id)


def test_same_seed_same_trades() -> None:
    a, b = _walk(7), _walk(7)
    assert [a.trade(1000 + i) for i in range(200)] == [b.trade(1000 + i) for i in range(200)]
    c = _walk(8)
    assert [t.price for t in (c.trade(1) for _ in range(20))] != [
        t.price for t in (_walk(7).trade(1) for _ in range(20))
    ]


def test_prices_are_exact_decimals_near_the_start_price_and_ids_increase() -> None:
    walk = _walk(1, next_id=500)
    trades = [walk.trade(i) for i in range(5000)]
    assert [t.trade_id for t in trades] == list(range(500, 5500))
    assert all(isinstance(t.price, Decimal) and t.price > 0 for t in trades)
    assert all(t.price.as_tuple().exponent >= -2 for t in trades)  # BTC ticks of 0.01
    assert min(t.price for t in trades) > 50_000
    assert max(t.price for t in trades) < 70_000


def test_sizes_are_skewed_like_real_order_flow() -> None:
    walk = _walk(3, "ETHUSDT")
    sizes = sorted(walk.trade(0).quantity for _ in range(5000))
    median, p99 = sizes[len(sizes) // 2], sizes[int(len(sizes) * 0.99)]
    assert sizes[0] > 0
    assert p99 > 10 * median  # a long tail of large trades
    buys = sum(not walk.trade(0).buyer_is_maker for _ in range(2000))
    assert 800 < buys < 1200


def test_poisson_mean() -> None:
    rng = random.Random(5)
    for mean in (0.5, 4.0, 300.0):
        draws = [_poisson(rng, mean) for _ in range(4000)]
        assert abs(sum(draws) / len(draws) - mean) < 0.1 * mean + 0.05
