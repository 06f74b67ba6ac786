"""Indicators: closed candles -> RSI, MACD, Bollinger, momentum -> `crypto.indicators.<type>` -> storage.

Every closed candle of the configured intervals (from `crypto.aggregated.<tf>`) advances
its series by one step; the final points are published and stored, together with the
series' state, in one transaction. The forming candle gets provisional points
(`final: false`), published at most once per `provisional_ms` per series and never
stored.

Resuming: on start the plugin waits until candles published before it are stored, joins
the candle topics, loads each series' state and folds in the stored closed candles from
the state's candle on (that one again, in case its close changed), before it reads the
bus. A candle seen twice is harmless: the same open time replaces the last step, an
older one is ignored. So the series continues after any restart, SIGKILL included, as if
nothing had happened.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import msgspec

from cryptoviz.batching import BatchingConsumer
from cryptoviz.errors import BusClosed
from cryptoviz.market.indicators import IndicatorParams, IndicatorSeries
from cryptoviz.models import (
    INDICATOR_TYPES,
    INTERVALS,
    Candle,
    IndicatorPoint,
    IntervalName,
    candle_topic,
    indicator_topic,
)
from cryptoviz.plugin import PluginContext, PluginSpec
from cryptoviz.storage.base import SeriesState
from cryptoviz.tasks import cancel_and_wait

CATCH_UP_PAGE = 5_000
SETTLE_TIMEOUT_S = 30.0
log = logging.getLogger(__name__)

Period = Annotated[int, msgspec.Meta(ge=2, le=1000)]
Key = tuple[str, str]


class IndicatorsConfig(msgspec.Struct, forbid_unknown_fields=True):
    intervals: list[IntervalName] = msgspec.field(default_factory=lambda: list(INTERVALS))  # type: ignore[arg-type]
    rsi_period: Period = 14
    macd_fast: Period = 12
    macd_slow: Period = 26
    macd_signal: Period = 9
    bollinger_period: Period = 20
    bollinger_stddev: Annotated[float, msgspec.Meta(gt=0, le=100)] = 2.0
    momentum_period: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    provisional: bool = True
    """Publish provisional points of the forming candle (live runs only)."""
    provisional_ms: Annotated[int, msgspec.Meta(ge=50, le=3_600_000)] = 1000
    """At most one provisional publication per series in this time."""

    def __post_init__(self) -> None:
        if self.macd_fast >= self.macd_slow:
            raise ValueError(f"macd_fast ({self.macd_fast}) must be below macd_slow ({self.macd_slow})")

    def params(self) -> IndicatorParams:
        return IndicatorParams(
            self.rsi_period, self.macd_fast, self.macd_slow, self.macd_signal,
            self.bollinger_period, self.bollinger_stddev, self.momentum_period,
        )  # fmt: skip


class IndicatorsPlugin:
    def __init__(self, config: IndicatorsConfig) -> None:
        self.config = config
        self.params = config.params()
        self.intervals = sorted(set(config.intervals), key=INTERVALS.__getitem__)
        self._series: dict[Key, IndicatorSeries] = {}
        self._points: list[IndicatorPoint] = []
        """Final points to write, in order: a replaced candle's points are written again after."""
        self._dirty: set[Key] = set()
        self._forming: dict[Key, Candle] = {}
        self._provisional = False
        self._ctx: PluginContext | None = None
        self._consumer: BatchingConsumer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.candles = 0
        self.replaced = 0
        self.ignored = 0
        self.published = 0
        self.provisional_published = 0
        self.caught_up = 0
        self.rebuilt = 0
        self.rejected = 0

    async def start(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        await self._settle(ctx)
        sub = ctx.bus.subscribe([candle_topic(i) for i in self.intervals], "indicators", Candle)
        await self._restore(ctx)
        self._consumer = BatchingConsumer(
            sub, self._accept, self._write, self._pending, self._reject,
            batch_size=ctx.config.storage.batch_size, flush_ms=ctx.config.storage.flush_ms,
            draining=ctx.draining, what="storing indicators",
        )  # fmt: skip
        self._tasks.append(ctx.tasks.spawn(self._consumer.run(), "indicators"))
        if ctx.live and self.config.provisional:
            self._provisional = True
            self._tasks.append(ctx.tasks.spawn(self._provisional_forever(ctx), "indicators-provisional"))
        if ctx.live and any(
            days > 0 for i, days in ctx.config.storage.retention_days.items() if i in INTERVALS
        ):
            self._tasks.append(ctx.tasks.spawn(self._prune_forever(ctx), "indicators-retention"))

    async def _settle(self, ctx: PluginContext) -> None:
        """Wait until what was published before joining (a candles catch-up) is stored,
        so that the stored candles read next hold it whatever the start order."""
        try:
            await asyncio.wait_for(ctx.bus.drain(), SETTLE_TIMEOUT_S)
        except TimeoutError:
            log.warning(
                "indicators: the bus did not drain in %.0fs; resuming from what is stored", SETTLE_TIMEOUT_S
            )

    async def _restore(self, ctx: PluginContext) -> None:
        """Load each series' state, then fold in the stored closed candles from its candle on."""
        saved = {(s.symbol, s.interval): s for s in await ctx.storage.indicators.states()}
        for symbol in sorted({info.symbol for info in await ctx.storage.symbols()}):
            for interval in self.intervals:
                series, start = self._resumed(symbol, interval, saved.get((symbol, interval)))
                await self._catch_up(ctx, series, start)

    def _resumed(self, symbol: str, interval: str, state: SeriesState | None) -> tuple[IndicatorSeries, int]:
        key = (symbol, interval)
        if state is not None:
            try:
                series = IndicatorSeries.load(symbol, interval, self.params, state.state)
                self._series[key] = series
                return series, series.last_ts
            except ValueError as exc:
                self.rebuilt += 1
                log.warning(
                    "indicators %s %s: rebuilt from the first stored candle: %s", symbol, interval, exc
                )
        series = self._series[key] = IndicatorSeries(symbol, interval, self.params)
        return series, 0

    async def _catch_up(self, ctx: PluginContext, series: IndicatorSeries, start: int) -> None:
        while True:
            page = await ctx.storage.candles(
                series.symbol, series.interval, start=start, end=None, limit=CATCH_UP_PAGE
            )
            points: list[IndicatorPoint] = []
            for candle in page:
                if candle.closed:
                    points += series.take(candle.open_time, float(candle.close))
                    self.caught_up += 1
            if series.last_ts >= start:
                await ctx.storage.indicators.save(points, [self._state(series)])
            if len(page) < CATCH_UP_PAGE:
                return
            start = page[-1].open_time + 1

    async def _accept(self, topic: str, candles: list[Candle]) -> None:
        points = self._points
        published: dict[str, list[IndicatorPoint]] = {kind: [] for kind in INDICATOR_TYPES}
        for candle in candles:
            key = (candle.symbol, candle.interval)
            if not candle.closed:
                if self._provisional:
                    self._forming[key] = candle
                continue
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = IndicatorSeries(candle.symbol, candle.interval, self.params)
            ts = candle.open_time
            if ts < series.last_ts:
                self.ignored += 1
                continue
            if ts == series.last_ts:
                self.replaced += 1
            forming = self._forming.get(key)
            if forming is not None and forming.open_time <= ts:
                del self._forming[key]
            self.candles += 1
            self._dirty.add(key)
            taken = series.take(ts, float(candle.close))
            points += taken
            for point in taken:
                published[point.type].append(point)
        await self._publish(published)

    async def _publish(self, by_type: dict[str, list[IndicatorPoint]]) -> None:
        if self._ctx is None:
            return
        for kind, points in by_type.items():
            if points:
                await self._ctx.bus.publish(indicator_topic(kind), points)
                self.published += len(points)

    @staticmethod
    def _state(series: IndicatorSeries) -> SeriesState:
        return SeriesState(series.symbol, series.interval, series.last_ts, series.dump())

    def _pending(self) -> int:
        return len(self._points) + len(self._dirty)

    async def _write(self) -> None:
        assert self._ctx is not None
        states = [self._state(self._series[key]) for key in self._dirty]
        await self._ctx.storage.indicators.save(self._points, states)
        self._points = []
        self._dirty = set()

    def _reject(self, exc: BaseException) -> None:
        """Points set aside are computed again from the stored state after a restart."""
        self.rejected += len(self._points)
        self._points = []
        self._dirty = set()

    async def _provisional_forever(self, ctx: PluginContext) -> None:
        while True:
            await asyncio.sleep(self.config.provisional_ms / 1000)
            forming, self._forming = self._forming, {}
            by_type: dict[str, list[IndicatorPoint]] = {}
            for key, candle in forming.items():
                series = self._series.get(key)
                if series is None:
                    continue
                for point in series.provisional(candle.open_time, float(candle.close)):
                    by_type.setdefault(point.type, []).append(point)
            try:
                for kind, points in by_type.items():
                    await ctx.bus.publish(indicator_topic(kind), points)
                    self.provisional_published += len(points)
            except BusClosed:
                return

    async def _prune_forever(self, ctx: PluginContext) -> None:
        """Points of an interval are kept as long as its candles (`storage.retention_days`)."""
        retention = {str(k): v for k, v in ctx.config.storage.retention_days.items() if k in INTERVALS}
        while True:
            try:
                deleted = await ctx.storage.indicators.prune(retention)
                if any(deleted.values()):
                    log.info("indicators retention: deleted %s", deleted)
            except Exception:
                log.exception("indicators retention run failed; retrying at the next one")
            await asyncio.sleep(ctx.config.storage.prune_every_seconds)

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        if self._consumer is not None:
            await self._consumer.flush()

    def status(self) -> dict[str, Any]:
        return {
            "ok": all(not t.done() for t in self._tasks),
            "series": len(self._series),
            "candles": self.candles,
            "caught_up_from_storage": self.caught_up,
            "replaced": self.replaced,
            "older_ignored": self.ignored,
            "published": self.published,
            "provisional_published": self.provisional_published,
            "rebuilt": self.rebuilt,
            "rejected": self.rejected,
            "pending": len(self._points),
        }


plugin = PluginSpec(
    name="indicators",
    kind="handler",
    description="RSI, MACD, Bollinger bands and momentum of closed candles, stored and published",
    config_type=IndicatorsConfig,
    factory=IndicatorsPlugin,
)
