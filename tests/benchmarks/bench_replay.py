"""Benchmark: `cryptoviz replay` of the USD-M futures recording into SQLite, all seven intervals.

Reports trades per second end to end (parse, dedup, store trades, aggregate, store
candles, drain) and the peak RSS of the process. `--profile` prints where the time goes.
Run with `make bench`; not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

from cryptoviz.config import load_config
from cryptoviz.replay.command import _replay, replay_plugins

DATA = Path(os.environ.get("CRYPTOVIZ_TESTDATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
RECORDING = DATA / "binance" / "usdm-btcusdt-20240808.recv.gz"


PIPELINE = '["trades", "candles"]'
"""The core pipeline: dedup, trades stored, candles of all seven intervals stored."""
WITH_INDICATORS = '["trades", "candles", "indicators"]'


def run_once(path: Path, handlers: str = PIPELINE) -> tuple[float, dict[str, object]]:
    """Wall seconds of one replay, and its summary."""
    seconds, _cpu, summary = timed_run(path, handlers)
    return seconds, summary


def timed_run(path: Path, handlers: str = PIPELINE) -> tuple[float, float, dict[str, object]]:
    """Wall and CPU seconds (every thread of the process) of one replay, and its summary.
    On a shared VM the wall clock also counts time the host gave to others; CPU time does not."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "CRYPTOVIZ_STORAGE__SQLITE_PATH": f"{tmp}/bench.db",
            "CRYPTOVIZ_LOG__LEVEL": "warning",
            "CRYPTOVIZ_PLUGINS__ENABLED": handlers,
        }
        config = load_config(None, env)
        plugins = replay_plugins(config, [str(path)], speed=0.0)
        started, cpu = time.perf_counter(), time.process_time()
        summary = asyncio.run(_replay(config, plugins, None))
        return time.perf_counter() - started, time.process_time() - cpu, summary


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--indicators", action="store_true", help="also compute and store indicators")
    args = parser.parse_args()
    if not RECORDING.exists():
        print(f"recording not found: {RECORDING} (set CRYPTOVIZ_TESTDATA)", file=sys.stderr)
        return 1
    handlers = WITH_INDICATORS if args.indicators else PIPELINE
    print(f"handlers: {handlers}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run_once, RECORDING, handlers)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return 0
    rates, cpu_rates = [], []
    for _ in range(args.runs):
        seconds, cpu, summary = timed_run(RECORDING, handlers)
        trades = int(summary["ingested"])  # type: ignore[call-overload]
        rates.append(trades / seconds)
        cpu_rates.append(trades / cpu)
        rate = trades / seconds
        print(f"replay {trades:,} trades in {seconds:.3f}s ({cpu:.3f}s CPU): {rate:,.0f} trades/s")
    rates.sort()
    cpu_rates.sort()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    median, cpu_median = rates[len(rates) // 2], cpu_rates[len(cpu_rates) // 2]
    print(
        f"median {median:,.0f} trades/s, best {rates[-1]:,.0f}; per CPU second: median"
        f" {cpu_median:,.0f}, best {cpu_rates[-1]:,.0f}; peak RSS {peak_kib / 1024:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
