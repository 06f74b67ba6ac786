"""Replay: recorded trades through the same pipeline as live data.

Reads every format of `cryptoviz.replay.reader` (Binance combined streams, raw payloads,
receive-time prefixes, public-data CSV dumps, gzip). `speed = 0` publishes as fast as
the pipeline takes it; `speed = 1.0` keeps the recording's pace. `loop = true` replays
forever, each pass shifted forward in time and upward in ids so it reads as new data.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from cryptoviz.models import TOPIC_RAW_TRADES, Trade
from cryptoviz.plugin import PluginContext, PluginSpec
from cryptoviz.replay.reader import read_batches
from cryptoviz.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class ReplayConfig(msgspec.Struct, forbid_unknown_fields=True):
    files: list[str] = msgspec.field(default_factory=list)
    speed: Annotated[float, msgspec.Meta(ge=0, le=1_000_000)] = 0.0
    loop: bool = False
    exchange: str = "binance"


@dataclass
class _Span:
    """Times and ids seen in the first pass, to shift later passes past them."""

    first_time: int
    last_time: int
    ids: dict[str, tuple[int, int]]


class ReplayPlugin:
    def __init__(self, config: ReplayConfig) -> None:
        self.config = config
        self.lines = 0
        self.trades = 0
        self.skipped: Counter[str] = Counter()
        self.failed_files: list[str] = []
        self.passes = 0
        self.done = asyncio.Event()
        self._pace_origin: tuple[int, float] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, ctx: PluginContext) -> None:
        self._task = ctx.tasks.spawn(self._run(ctx), "replay")

    async def _run(self, ctx: PluginContext) -> None:
        try:
            span: _Span | None = None
            while True:
                span = await self._one_pass(ctx, span)
                self.passes += 1
                if not self.config.loop or span is None or not self._playable():
                    return
        finally:
            self.done.set()

    def _playable(self) -> list[str]:
        """The files not yet failed: a file that failed once is skipped on later passes."""
        return [p for p in self.config.files if p not in self.failed_files]

    def _fail(self, path: str, exc: Exception) -> None:
        if path not in self.failed_files:
            self.failed_files.append(path)
            log.error("replay: cannot read %s: %s: %s", path, type(exc).__name__, exc)

    async def _one_pass(self, ctx: PluginContext, span: _Span | None) -> _Span | None:
        """One pass over the files; returns what the first pass saw, for shifting later ones."""
        pass_no = self.passes
        time_shift = 0 if span is None else pass_no * (span.last_time - span.first_time + 1000)
        seen = _Span(2**62, -1, {}) if span is None and self.config.loop else None
        pending: list[Trade] = []
        for path in self._playable():
            # Only reading is guarded: any error there (OSError, zlib.error, a parser bug...)
            # fails this file alone, while publishing errors still end the task.
            with closing(read_batches(path, self.config.exchange)) as batches:
                while True:
                    try:
                        batch = next(batches, None)
                    except Exception as exc:
                        self._fail(path, exc)
                        break
                    if batch is None:
                        break
                    self.lines += batch.lines
                    self.skipped.update(batch.skipped)
                    trades = batch.trades
                    if seen is not None:
                        for trade in trades:
                            _observe(seen, trade)
                    elif span is not None:
                        trades = [_shift(t, span, pass_no, time_shift) for t in trades]
                    self.trades += len(trades)
                    if self.config.speed > 0:
                        await self._paced(ctx, trades)
                        continue
                    pending += trades  # whole bus batches: per-batch costs dominate small ones
                    if len(pending) >= ctx.config.bus.max_batch:
                        await self._publish(ctx, pending)
                        pending = []
        await self._publish(ctx, pending)
        return seen if seen is not None and seen.last_time >= 0 else span

    async def _paced(self, ctx: PluginContext, trades: list[Trade]) -> None:
        """Publish at the recording's pace divided by `speed`, sleeping between trades."""
        loop = asyncio.get_running_loop()
        speed = self.config.speed
        pending: list[Trade] = []
        for trade in trades:
            if self._pace_origin is None:
                self._pace_origin = (trade.time, loop.time())
            t0, w0 = self._pace_origin
            delay = w0 + (trade.time - t0) / 1000 / speed - loop.time()
            if delay > 0.002:
                await self._publish(ctx, pending)
                pending = []
                await asyncio.sleep(delay)
            pending.append(trade)
        await self._publish(ctx, pending)

    async def _publish(self, ctx: PluginContext, batch: list[Trade]) -> None:
        if batch:
            await ctx.bus.publish(TOPIC_RAW_TRADES, batch)
        await asyncio.sleep(0)  # reading is synchronous: let the API and handlers run between batches

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    def status(self) -> dict[str, Any]:
        return {
            "ok": not self.failed_files,
            "files": self.config.files,
            "failed_files": self.failed_files,
            "passes": self.passes,
            "lines": self.lines,
            "trades": self.trades,
            "skipped": dict(self.skipped),
            "done": self.done.is_set(),
        }


def _observe(span: _Span, trade: Trade) -> None:
    span.first_time = min(span.first_time, trade.time)
    span.last_time = max(span.last_time, trade.time)
    lo, hi = span.ids.get(trade.symbol, (trade.trade_id, trade.trade_id))
    span.ids[trade.symbol] = (min(lo, trade.trade_id), max(hi, trade.trade_id))


def _shift(trade: Trade, span: _Span, pass_no: int, time_shift: int) -> Trade:
    lo, hi = span.ids.get(trade.symbol, (0, 0))
    return msgspec.structs.replace(
        trade, time=trade.time + time_shift, trade_id=trade.trade_id + pass_no * (hi - lo + 1)
    )


plugin = PluginSpec(
    name="replay",
    kind="source",
    description="Replays recorded exchange traffic and public-data dumps",
    config_type=ReplayConfig,
    factory=ReplayPlugin,
)
