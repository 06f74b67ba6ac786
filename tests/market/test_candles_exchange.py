"""Candles equal the exchange's own klines and an independent decimal aggregation."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from cryptoviz.config import Config
from cryptoviz.market.candles import CandleAggregator
from cryptoviz.models import INTERVALS, Candle, Trade
from cryptoviz.replay.command import _replay, replay_plugins
from cryptoviz.replay.reader import read_file
from cryptoviz.storage.sqlite import SQLiteStorage
from tests.conftest import make_config

SPOT = "binance/spot-BTC-ETH-DOT-2021-04-04.jsonl"
XRP = "binance/XRPETH-aggTrades-2019-10-11_13.csv"


class _Kline(msgspec.Struct):
    t: int
    s: str
    f: int
    L: int
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - the exchange's field name
    c: Decimal
    v: Decimal
    n: int
    q: Decimal
    V: Decimal


class _KlineMsg(msgspec.Struct):
    k: _Kline


class _Wrapper(msgspec.Struct):
    stream: str
    data: msgspec.Raw


class _AggIds(msgspec.Struct):
    f: int
    l: int  # noqa: E741


def _spot_klines_and_trades(path: Path) -> tuple[list[_Kline], list[tuple[Trade, int, int]]]:
    """Klines from the recording, and each aggTrade with its raw trade id range."""
    klines: list[_Kline] = []
    trades: list[tuple[Trade, int, int]] = []
    parsed = iter(read_file(path))
    for line in path.read_bytes().splitlines():
        item = next(parsed)
        wrapper = msgspec.json.decode(line, type=_Wrapper)
        if wrapper.stream.endswith("@kline_1m"):
            klines.append(msgspec.json.decode(wrapper.data, type=_KlineMsg).k)
        elif isinstance(item, Trade):
            ids = msgspec.json.decode(wrapper.data, type=_AggIds)
            trades.append((item, ids.f, ids.l))
    return klines, trades


def _fields(c: Candle) -> tuple[object, ...]:
    return (c.open, c.high, c.low, c.close, c.volume, c.trades, c.quote_volume, c.taker_buy_volume)


def test_candles_equal_every_fully_covered_kline(testdata: Path) -> None:
    klines, trades = _spot_klines_and_trades(testdata / SPOT)
    aggregator = CandleAggregator(["1m"])
    first_raw_id: dict[str, int] = {}
    last_raw_id: dict[str, int] = {}
    at_raw_id: dict[tuple[str, int], Candle] = {}
    for trade, first, last in trades:
        first_raw_id.setdefault(trade.symbol, first)
        last_raw_id[trade.symbol] = last
        aggregator.add([trade])
        forming = aggregator.forming(trade.symbol, "1m")
        assert forming is not None
        at_raw_id[(trade.symbol, last)] = forming
    # Fully covered: every raw trade f..L recorded, and L closes an aggTrade (two klines
    # were sent while an aggTrade's raw trades were only partly in).
    covered = [
        k for k in klines if first_raw_id[k.s] <= k.f and last_raw_id[k.s] >= k.L and (k.s, k.L) in at_raw_id
    ]
    assert len(covered) == 51  # as counted in data/README.md
    for k in covered:
        candle = at_raw_id[(k.s, k.L)]
        assert candle.open_time == k.t
        assert _fields(candle) == (k.o, k.h, k.l, k.c, k.v, k.n, k.q, k.V), k


async def test_pipeline_candles_equal_an_independent_aggregation_spot(testdata: Path, tmp_path: Path) -> None:
    """Through the whole pipeline, the three symbols interleaved in one recording."""
    _, trades = _spot_klines_and_trades(testdata / SPOT)
    config = make_config(tmp_path)
    await _replay(config, replay_plugins(config, [str(testdata / SPOT)], speed=0.0), None)
    storage = SQLiteStorage(config.storage.sqlite_path)
    await storage.open()
    try:
        for symbol in ("BTCUSDT", "ETHUSDT", "DOTUSDT"):
            own = [t for t, _, _ in trades if t.symbol == symbol]
            for interval in ("1s", "5s", "1m", "1d"):
                stored = await storage.candles(symbol, interval, start=0, end=None, limit=1000)
                expected = independent_candles(own, INTERVALS[interval])
                assert [(c.open_time, *_fields(c)) for c in stored] == expected, (symbol, interval)
    finally:
        await storage.close()


def independent_candles(trades: list[Trade], length: int) -> list[tuple[object, ...]]:
    """A plain re-implementation of the kline rules, continuous from the first trade."""
    windows: dict[int, list[Trade]] = defaultdict(list)
    for t in trades:
        windows[t.time // length * length].append(t)
    out: list[tuple[object, ...]] = []
    first, last = min(windows), max(windows)
    close = None
    for start in range(first, last + length, length):
        group = sorted(windows.get(start, []), key=lambda t: t.trade_id)
        if not group:
            out.append((start, close, close, close, close, Decimal(0), 0, Decimal(0), Decimal(0)))
            continue
        prices = [t.price for t in group]
        close = group[-1].price
        out.append((
            start, group[0].price, max(prices), min(prices), close,
            sum((t.quantity for t in group), Decimal(0)),
            sum(t.count for t in group),
            sum((t.price * t.quantity for t in group), Decimal(0)),
            sum((t.quantity for t in group if not t.buyer_is_maker), Decimal(0)),
        ))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def xrp_trades(testdata: Path) -> list[Trade]:
    trades = [t for t in read_file(testdata / XRP) if isinstance(t, Trade)]
    assert len(trades) == 12_477
    return trades


async def test_all_intervals_equal_an_independent_aggregation(
    testdata: Path, tmp_path: Path, xrp_trades: list[Trade]
) -> None:
    config: Config = make_config(tmp_path)
    await _replay(config, replay_plugins(config, [str(testdata / XRP)], speed=0.0), None)
    storage = SQLiteStorage(config.storage.sqlite_path)
    await storage.open()
    try:
        for interval, length in INTERVALS.items():
            expected = independent_candles(xrp_trades, length)
            stored: list[Candle] = []
            start = expected[0][0]
            while True:  # page through: 1s has over 200,000 candles
                page = await storage.candles("XRPETH", interval, start=start, end=None, limit=100_000)
                stored += page
                if len(page) < 100_000:
                    break
                start = page[-1].open_time + 1
            got = [(c.open_time, *_fields(c)) for c in stored]
            assert len(got) == len(expected), interval
            assert got == expected, interval
            assert all(c.open_time % length == 0 for c in stored)
            assert all(c.closed for c in stored[:-1])
            assert not stored[-1].closed
    finally:
        await storage.close()
