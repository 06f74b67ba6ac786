"""Benchmark: indicator cost per closed candle, RSI + MACD + Bollinger + momentum together.

The closed candles of the XRPETH recording for all seven intervals (built with the candle
aggregator, outside the timing) go through:
- `compute`: `IndicatorSeries.take`, the four indicators and their points;
- `provisional`: one preview of a forming candle (as many previews as candles);
- `plugin`: the indicators plugin in a runtime, from the candle topics to SQLite (bus
  hand-offs, computing, publishing the points, writing points and states).
Run with `make bench`; not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptoviz.config import load_config
from cryptoviz.market.candles import CandleAggregator
from cryptoviz.market.indicators import IndicatorParams, IndicatorSeries
from cryptoviz.models import INTERVALS, Candle, Trade, candle_topic
from cryptoviz.plugin import discover, select
from cryptoviz.replay.reader import read_file
from cryptoviz.runtime import Runtime

DATA = Path(os.environ.get("CRYPTOVIZ_TESTDATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
RECORDING = DATA / "binance" / "XRPETH-aggTrades-2019-10-11_13.csv"


def closed_candles(path: Path) -> list[Candle]:
    """Every closed candle of the recording, each interval in order, last version of each."""
    aggregator = CandleAggregator(list(INTERVALS))
    trades = [t for t in read_file(path) if isinstance(t, Trade)]
    latest: dict[tuple[str, int], Candle] = {}
    for start in range(0, len(trades), 1000):
        for candle in aggregator.add(trades[start : start + 1000]):
            if candle.closed:
                latest[(candle.interval, candle.open_time)] = candle
    return [latest[k] for k in sorted(latest, key=lambda k: (INTERVALS[k[0]], k[1]))]


def compute(candles: list[Candle]) -> tuple[float, float]:
    """Seconds to take every candle, and to preview a forming candle after each."""
    closes = [(c.interval, c.open_time, float(c.close)) for c in candles]
    series = {i: IndicatorSeries("XRPETH", i, IndicatorParams()) for i in INTERVALS}
    started = time.perf_counter()
    for interval, ts, close in closes:
        series[interval].take(ts, close)
    taken = time.perf_counter() - started
    ahead = {i: s.last_ts + INTERVALS[i] for i, s in series.items()}  # the forming candle of each
    started = time.perf_counter()
    for interval, _ts, close in closes:
        series[interval].provisional(ahead[interval], close)
    return taken, time.perf_counter() - started


async def plugin_run(candles: list[Candle], folder: str) -> float:
    env = {
        "CRYPTOVIZ_STORAGE__SQLITE_PATH": f"{folder}/bench.db",
        "CRYPTOVIZ_LOG__LEVEL": "warning",
        "CRYPTOVIZ_PLUGINS__ENABLED": '["indicators"]',
    }
    config = load_config(None, env)
    runtime = Runtime(config, select(config, discover()), live=False)
    await runtime.start()
    plugin = runtime.instances["indicators"]
    started = time.perf_counter()
    for start in range(0, len(candles), 1000):
        batch = candles[start : start + 1000]
        by_interval: dict[str, list[Candle]] = {}
        for candle in batch:
            by_interval.setdefault(candle.interval, []).append(candle)
        for interval, group in by_interval.items():
            await runtime.bus.publish(candle_topic(interval), group)
    await runtime.stop()  # drains the bus and writes what is pending
    elapsed = time.perf_counter() - started
    assert plugin.status()["candles"] == len(candles), plugin.status()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not RECORDING.exists():
        print(f"recording not found: {RECORDING} (set CRYPTOVIZ_TESTDATA)", file=sys.stderr)
        return 1
    candles = closed_candles(RECORDING)
    n = len(candles)
    print(f"{n:,} closed candles of XRPETH over seven intervals, four indicators each")
    taken, previews, plugin = [], [], []
    for _ in range(args.runs):
        t, p = compute(candles)
        taken.append(t / n * 1e6)
        previews.append(p / n * 1e6)
        with tempfile.TemporaryDirectory() as folder:
            plugin.append(asyncio.run(plugin_run(candles, folder)) / n * 1e6)
    for label, values in (("compute", taken), ("provisional", previews), ("plugin", plugin)):
        median = statistics.median(values)
        print(f"{label:<12} median {median:6.2f} µs per closed candle (best {min(values):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
