"""Benchmark: the live Binance collector against the fake Binance (`tests/fakes/binance.py`).

1. Reconnect with repair: the fake plays `usdm-btcusdt-20240808.recv.gz` in a loop at
   1,000 trades/s, in this process, and drops the connection (TCP abort) every second or
   so. For each drop: the time until the collector is connected again, its repair over
   REST is done and the symbol is live, polled every millisecond. The reconnect backoff is
   set near zero here so the figure is the mechanism's own; in production the first retry
   after a drop adds a uniform wait in [0, `backoff_base_seconds`].
2. CPU per 1,000 trades/s: the fake runs in another process at a fixed rate, and this
   process runs the collector with the trades and candles handlers into SQLite. Process CPU
   time (all threads, `getrusage`) over a steady window, divided by the trades received.

Run with `.venv/bin/python -m tests.benchmarks.bench_binance`; not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptoviz_plugins.binance import BinanceConfig, BinancePlugin

from cryptoviz.config import load_config
from cryptoviz.plugin import LoadedPlugin, discover, select
from cryptoviz.runtime import Runtime
from tests.fakes.binance import FakeBinance, load_trades

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("CRYPTOVIZ_TESTDATA", REPO.parent / "shared" / "data"))
RECORDING = DATA / "binance" / "usdm-btcusdt-20240808.recv.gz"


def _runtime(db_dir: str, ws_url: str, rest_url: str, handlers: bool = True, **options: float) -> Runtime:
    env = {
        "CRYPTOVIZ_STORAGE__SQLITE_PATH": f"{db_dir}/bench.db",
        "CRYPTOVIZ_LOG__LEVEL": "warning",
        "CRYPTOVIZ_PLUGINS__ENABLED": '["trades", "candles"]' if handlers else "[]",
    }
    config = load_config(None, env)
    binance = BinanceConfig(symbols=["BTCUSDT"], ws_url=ws_url, rest_url=rest_url, **options)  # type: ignore[arg-type]
    return Runtime(config, [LoadedPlugin(discover()["binance"], binance), *select(config, discover())])


def _plugin(runtime: Runtime) -> BinancePlugin:
    plugin = runtime.instances["binance"]
    assert isinstance(plugin, BinancePlugin)
    return plugin


async def reconnect_times(drops: int) -> None:
    fake = FakeBinance(load_trades(RECORDING), rate=1000.0, loop=True)
    async with fake:
        with tempfile.TemporaryDirectory() as tmp:
            runtime = _runtime(
                tmp, fake.ws_url, fake.rest_url, backoff_base_seconds=0.001, backoff_cap_seconds=0.001
            )
            await runtime.start()
            plugin = _plugin(runtime)
            await asyncio.sleep(2.0)
            totals, repairs, fetched = [], [], []
            for _ in range(drops):
                await asyncio.sleep(random.uniform(0.5, 1.0))
                before = plugin.status()["symbols"]["BTCUSDT"]
                fake.drop_now("abort")
                dropped = time.monotonic()
                while True:
                    await asyncio.sleep(0.001)
                    status = plugin.status()
                    symbol = status["symbols"]["BTCUSDT"]
                    if (
                        symbol["connected"]
                        and symbol["state"] == "live"
                        and symbol["repairs"] > before["repairs"]
                    ):
                        break
                totals.append(time.monotonic() - dropped)
                repairs.append(symbol["last_repair_s"])
                fetched.append(symbol["trades_repaired"] - before["trades_repaired"])
            await runtime.stop()
    print(f"reconnect with repair, {drops} drops at 1,000 trades/s (TCP abort, backoff ~0):")
    median, worst = statistics.median(totals) * 1000, max(totals) * 1000
    print(f"  drop -> live again: median {median:.0f} ms, max {worst:.0f} ms")
    print(f"  of which REST repair: median {statistics.median(repairs) * 1000:.0f} ms")
    print(f"  trades repaired per drop: median {statistics.median(fetched):.0f}")


def cpu_per_rate(rate: float, seconds: float, linger_ms: int, handlers: bool) -> None:
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.binance", str(RECORDING), "--rate", str(rate), "--loop"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None
        ready = fake.stdout.readline().split()
        assert ready[:1] == ["READY"], ready
        asyncio.run(_measure(ready[1], ready[2], rate, seconds, linger_ms, handlers))
    finally:
        fake.terminate()
        fake.wait(10)


async def _measure(
    ws_url: str, rest_url: str, rate: float, seconds: float, linger_ms: int, handlers: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runtime = _runtime(tmp, ws_url, rest_url, handlers, publish_linger_ms=linger_ms)
        await runtime.start()
        plugin = _plugin(runtime)
        await asyncio.sleep(3.0)  # warm-up: connected, caches and SQLite pages hot
        usage0, wall0, published0 = (
            resource.getrusage(resource.RUSAGE_SELF),
            time.monotonic(),
            plugin.status()["published"],
        )
        await asyncio.sleep(seconds)
        usage1, wall1, published1 = (
            resource.getrusage(resource.RUSAGE_SELF),
            time.monotonic(),
            plugin.status()["published"],
        )
        await runtime.stop()
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    wall = wall1 - wall0
    received = (published1 - published0) / wall
    busy = cpu / wall * 100
    per_trade = cpu / (published1 - published0) * 1e6
    print(
        f"  fed {rate:,.0f} trades/s, received {received:,.0f}/s: CPU {busy:.1f}% of one core,"
        f" {busy / (received / 1000):.1f}% per 1,000 trades/s ({per_trade:.0f} µs per trade)"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--rates", default="1000,2000,5000")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--linger-ms", default="10", help="publish_linger_ms values to compare, e.g. 0,10")
    parser.add_argument("--skip-reconnect", action="store_true")
    parser.add_argument("--collector-only", action="store_true", help="no handlers: the collector's own CPU")
    args = parser.parse_args()
    if not RECORDING.exists():
        print(f"recording not found: {RECORDING} (set CRYPTOVIZ_TESTDATA)", file=sys.stderr)
        return 1
    if not args.skip_reconnect:
        asyncio.run(reconnect_times(args.drops))
    for linger in (int(v) for v in args.linger_ms.split(",")):
        what = "the collector alone" if args.collector_only else "the collector and the handlers into SQLite"
        print(f"CPU of {what}, {args.seconds:g} s, linger {linger} ms:")
        for rate in (float(r) for r in args.rates.split(",")):
            cpu_per_rate(rate, args.seconds, linger, not args.collector_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
