"""`cryptoviz replay FILE...`: recordings through the live pipeline, a progress bar, a summary.

It runs the configured handlers (trades, candles, ...) with the replay collector in
place of whatever collectors the configuration enables, then drains and flushes. It is
a batch import: retention and clock-driven candle closing belong to `serve`, so the
result depends on the recordings alone (replaying twice changes nothing).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from typing import Any, TextIO

import msgspec

from cryptoviz.config import Config
from cryptoviz.errors import ConfigError
from cryptoviz.plugin import COLLECTOR_KINDS, LoadedPlugin, discover, select
from cryptoviz.runtime import Runtime

log = logging.getLogger(__name__)


def run_replay(config: Config, files: list[str], *, speed: float | None, quiet: bool) -> int:
    missing = [f for f in files if not _readable(f)]
    if missing:
        raise ConfigError(f"cannot read replay file(s): {', '.join(missing)}")
    plugins = replay_plugins(config, files, speed)
    summary = asyncio.run(_replay(config, plugins, None if quiet else sys.stderr))
    print(format_summary(summary))
    return exit_code(summary)


def exit_code(summary: dict[str, Any]) -> int:
    """1 when a file could not be read or a background task crashed; skipped lines are fine."""
    return 1 if summary["failed_files"] or summary["crashes"] else 0


def _readable(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def replay_plugins(config: Config, files: list[str], speed: float | None) -> list[LoadedPlugin]:
    """The configured handlers plus a replay collector reading `files`."""
    available = discover(config.plugins.folder)
    handlers = [
        n
        for n in config.plugins.enabled
        if available.get(n) and available[n].kind not in (*COLLECTOR_KINDS, "web")
    ]
    loaded = select(msgspec.structs.replace(config, plugins=msgspec.structs.replace(
        config.plugins, enabled=["replay", *handlers])), available)  # fmt: skip
    changes: dict[str, Any] = {"files": files, "loop": False}
    if speed is not None:
        changes["speed"] = speed
    replay = LoadedPlugin(loaded[0].spec, msgspec.structs.replace(loaded[0].config, **changes))
    return [replay, *loaded[1:]]


async def _replay(config: Config, plugins: list[LoadedPlugin], progress: TextIO | None) -> dict[str, Any]:
    runtime = Runtime(config, plugins, live=False)
    replay: Any = runtime.instances["replay"]
    unreadable: list[str] = []
    total = sum(_count_lines(f, unreadable) for f in replay.config.files) if progress else 0
    started = time.perf_counter()
    await runtime.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ended = [asyncio.ensure_future(replay.done.wait()), asyncio.ensure_future(stop.wait())]
    try:
        while not replay.done.is_set() and not stop.is_set():
            # Woken by the end at once; the progress bar is redrawn every 50 ms meanwhile.
            await asyncio.wait(ended, timeout=0.05 if progress else None, return_when=asyncio.FIRST_COMPLETED)
            if progress:
                _draw(progress, replay.lines, total, time.perf_counter() - started)
    finally:
        for waiter in ended:
            waiter.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runtime.stop()
    elapsed = time.perf_counter() - started
    if progress:
        _draw(progress, replay.lines, total, elapsed)
        progress.write("\n")
    trades: dict[str, Any] = runtime.instances["trades"].status() if "trades" in runtime.instances else {}
    status = replay.status()
    failed = list(dict.fromkeys([*unreadable, *status["failed_files"]]))
    return {
        "lines": status["lines"],
        "trades": status["trades"],
        "ingested": trades.get("stored", status["trades"]),
        "duplicates": trades.get("duplicates", 0),
        "skipped": status["skipped"],
        "interrupted": stop.is_set(),
        "failed_files": failed,
        "crashes": runtime.tasks.crashes,  # counted as tasks end, so complete once stop() returns
        "seconds": elapsed,
    }


def _count_lines(path: str, unreadable: list[str]) -> int:
    """Lines in `path` for the progress bar; 0, with `path` added to `unreadable`, when it
    cannot be read (the replay then reports it too and plays the other files)."""
    from cryptoviz.replay.reader import count_lines

    try:
        return count_lines(path)
    except Exception as exc:
        log.warning("progress bar: cannot count lines of %s: %s: %s", path, type(exc).__name__, exc)
        unreadable.append(path)
        return 0


def _draw(out: TextIO, done: int, total: int, elapsed: float) -> None:
    width = 30
    frac = min(1.0, done / total) if total else 0.0
    bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
    rate = done / elapsed if elapsed > 0 else 0.0
    out.write(f"\r[{bar}] {frac:6.1%}  {done:,}/{total:,} lines  {rate:,.0f} lines/s")
    out.flush()


def format_summary(s: dict[str, Any]) -> str:
    skipped = sum(s["skipped"].values())
    detail = ", ".join(f"{k} {v:,}" for k, v in sorted(s["skipped"].items()))
    lines = [
        f"lines read:      {s['lines']:,}",
        f"trades ingested: {s['ingested']:,}",
        f"duplicates:      {s['duplicates']:,}",
        f"lines skipped:   {skipped:,}" + (f" ({detail})" if detail else ""),
        f"elapsed:         {s['seconds']:.2f}s",
    ]
    if s.get("failed_files"):
        lines.append(f"failed files:    {', '.join(s['failed_files'])}")
    if s.get("crashes"):
        lines.append(f"task crashes:    {s['crashes']:,} (see the log)")
    if s["interrupted"]:
        lines.append("interrupted: stopped early, everything read so far was stored")
    return "\n".join(lines)
