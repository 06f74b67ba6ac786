"""Candles: trades -> candles for every interval -> `crypto.aggregated.<tf>` -> storage.

Two roles, both on by default and separable for scale-out: `aggregate` consumes raw
trades and publishes candle updates; `store` consumes those updates and upserts them,
keeping only the newest version of each candle per write.

After a restart the aggregator resumes from the newest stored candle of each series,
then replays stored trades past its watermark; each series skips trade ids it already
counted, so a trade is never counted twice, whoever redelivers it.

Scale-out: aggregators share one consumer group on `crypto.raw.trades`, keyed by symbol,
so one aggregator owns a symbol at a time. On the memory bus the aggregator restores every
stored symbol at start. On Kafka, whenever the group moves partitions (the first join
included), it waits until the trades handler's group has stored every trade this group
committed, forgets every series, and restores each symbol from storage on its next trade:
a symbol that moved here resumes exactly where its previous owner stopped, and one that
moved away is no longer closed on the clock here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Annotated, Any

import msgspec

from cryptoviz.batching import BatchingConsumer
from cryptoviz.bus.base import Subscription
from cryptoviz.errors import BusClosed
from cryptoviz.market.candles import CandleAggregator
from cryptoviz.models import INTERVALS, TOPIC_RAW_TRADES, Candle, IntervalName, Trade, candle_topic
from cryptoviz.plugin import PluginContext, PluginSpec
from cryptoviz.storage.base import Storage
from cryptoviz.tasks import cancel_and_wait, retry_forever

CATCH_UP_PAGE = 10_000
TRADES_GROUP = "trades"
"""The trades handler's consumer group (plugins/trades.py): it commits only what it stored."""
SETTLE_TIMEOUT_S = 120.0
log = logging.getLogger(__name__)


class CandlesConfig(msgspec.Struct, forbid_unknown_fields=True):
    intervals: list[IntervalName] = msgspec.field(default_factory=lambda: list(INTERVALS))  # type: ignore[arg-type]
    close_on_clock: bool = True
    """Close a forming candle once the symbol's clock passes its end plus the grace
    (live runs only: `cryptoviz replay` closes candles on trade time alone)."""
    grace_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 2000
    max_future_ms: Annotated[int, msgspec.Meta(ge=0)] = 60_000
    """Live only: trades stamped further ahead of the wall clock are ignored."""
    max_gap_fill: Annotated[int, msgspec.Meta(ge=0)] = 200_000
    """Flat candles made for one gap at most; a longer silence leaves a hole (and a warning)."""
    aggregate: bool = True
    store: bool = True


class CandlesPlugin:
    def __init__(self, config: CandlesConfig) -> None:
        self.config = config
        self.aggregator = CandleAggregator(config.intervals, config.grace_ms, config.max_gap_fill)
        self.published = 0
        self.caught_up = 0
        self.rejected = 0
        self.from_the_future = 0
        self._pending: dict[tuple[str, str, int], Candle] = {}
        self._clock: dict[str, tuple[int, float]] = {}
        self._ctx: PluginContext | None = None
        self._store: BatchingConsumer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.trades_subscription: Subscription | None = None
        self.takeovers = 0
        self._generation = 0
        """The trades subscription's generation the series were built in."""
        self._lazy = False
        """Restore each symbol on its first trade of a generation (Kafka) rather than all at start."""
        self._restored: set[str] = set()

    async def start(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        topics = [candle_topic(i) for i in self.aggregator.intervals]
        if self.config.store:
            sub = ctx.bus.subscribe(topics, "candles-store", Candle)
            self._store = BatchingConsumer(
                sub, self._accept, self._write, lambda: len(self._pending), self._reject,
                batch_size=ctx.config.storage.batch_size, flush_ms=ctx.config.storage.flush_ms,
                draining=ctx.draining, what="storing candles",
            )  # fmt: skip
            self._tasks.append(ctx.tasks.spawn(self._store.run(), "candles-store"))
        if self.config.aggregate:
            trades = self.trades_subscription = ctx.bus.subscribe([TOPIC_RAW_TRADES], "candles", Trade)
            self._generation = trades.generation
            self._lazy = ctx.config.bus.backend != "memory"  # only the memory bus never moves work
            if not self._lazy:
                await self._restore(ctx)
            self._tasks.append(ctx.tasks.spawn(self._aggregate(trades), "candles-aggregate"))
            if self.config.close_on_clock and ctx.live:
                self._tasks.append(ctx.tasks.spawn(self._close_on_clock(), "candles-clock"))

    async def _restore(self, ctx: PluginContext) -> None:
        for info in await ctx.storage.symbols():
            await self._restore_symbol(ctx.storage, info.symbol, info.exchange)

    async def _restore_symbol(
        self, storage: Storage, symbol: str, exchange: str, before: int | None = None
    ) -> None:
        """Resume from the symbol's newest stored candles, then fold the stored trades past
        them, up to trade id `before` (excluded) when given: the bus delivers those anyway."""
        self.aggregator.restore(await storage.latest_candles(symbol), exchange=exchange)
        after = self.aggregator.watermark(symbol)
        after = -1 if after is None else after
        while True:
            trades = await storage.trades_after(symbol, after, CATCH_UP_PAGE)
            if before is not None:
                trades = [t for t in trades if t.trade_id < before]
            if not trades:
                break
            self.caught_up += len(trades)
            await self._publish(self.aggregator.add(trades))
            after = trades[-1].trade_id

    async def _take_over(self, sub: Subscription) -> None:
        """The group moved partitions: forget every series, once the trades this group
        committed (by whichever aggregator) are all stored, so restoring finds them."""
        generation = sub.generation
        try:
            await asyncio.wait_for(sub.wait_for_group(TRADES_GROUP), SETTLE_TIMEOUT_S)
        except TimeoutError:
            log.error(
                "candles: the %r group has not stored what this group handled after %.0fs;"
                " resuming from what is stored: candles may miss trades", TRADES_GROUP, SETTLE_TIMEOUT_S,
            )  # fmt: skip
        old = self.aggregator
        self.aggregator = CandleAggregator(
            self.config.intervals, self.config.grace_ms, self.config.max_gap_fill
        )
        for counter in ("late_dropped", "duplicates", "other_exchange", "gaps_truncated"):
            setattr(self.aggregator, counter, getattr(old, counter))
        self._clock = {}
        self._restored = set()
        self._generation = generation
        self.takeovers += 1

    async def _restore_new(self, ctx: PluginContext, trades: list[Trade]) -> None:
        """Restore the symbols of `trades` not restored in this generation yet, folding the
        stored trades below each one's newest id here: the batch brings the rest, and what
        came before the group's committed offset is stored (see `_take_over`)."""
        newest: dict[str, Trade] = {}
        for trade in trades:
            if trade.symbol not in self._restored:
                known = newest.get(trade.symbol)
                if known is None or trade.trade_id > known.trade_id:
                    newest[trade.symbol] = trade
        for symbol, trade in newest.items():
            restore = partial(self._restore_symbol, ctx.storage, symbol, trade.exchange, trade.trade_id)
            await retry_forever(restore, f"restoring the candles of {symbol}")
            self._restored.add(symbol)

    async def _aggregate(self, sub: Subscription) -> None:
        while True:
            try:
                _topic, trades = await sub.get()
            except BusClosed:
                return
            if sub.generation != self._generation:
                await self._take_over(sub)
            if self._ctx is not None and self._ctx.live:
                trades = self._not_from_the_future(trades, self._ctx.clock())
            if self._lazy and self._ctx is not None:
                await self._restore_new(self._ctx, trades)
            await self._publish(self.aggregator.add(trades))
            seen = time.monotonic()
            clock = self._clock
            for trade in trades:
                clock[trade.symbol] = (trade.time, seen)
            await sub.commit()

    def _not_from_the_future(self, trades: list[Trade], now: int) -> list[Trade]:
        """Live only: a trade stamped well ahead of the wall clock is a broken timestamp;
        taking it would close every candle up to it and turn the real trades after it late."""
        limit = now + self.config.max_future_ms
        if all(t.time <= limit for t in trades):
            return trades
        kept = [t for t in trades if t.time <= limit]
        self.from_the_future += len(trades) - len(kept)
        log.warning(
            "candles: ignored %d trades stamped over %d ms ahead", len(trades) - len(kept), limit - now
        )
        return kept

    async def _close_on_clock(self) -> None:
        """Close candles of symbols whose trades stopped: each symbol's own clock is its
        last trade time plus the time elapsed since that trade arrived."""
        while True:
            await asyncio.sleep(0.25)
            sub = self.trades_subscription
            if sub is not None and sub.generation != self._generation:
                continue  # partitions moved: symbols held here may be another aggregator's now
            mono = time.monotonic()
            now = {s: t + int((mono - seen) * 1000) for s, (t, seen) in self._clock.items()}
            await self._publish(self.aggregator.close_due(now))

    async def _publish(self, candles: list[Candle]) -> None:
        if not candles or self._ctx is None:
            return
        by_interval: dict[str, list[Candle]] = {}
        for candle in candles:
            by_interval.setdefault(candle.interval, []).append(candle)
        # One topic per interval: sent together, so a broker round trip is paid once, not seven
        # times. Order only matters within a topic, and each topic gets one call.
        bus = self._ctx.bus
        await asyncio.gather(*(bus.publish(candle_topic(i), group) for i, group in by_interval.items()))
        self.published += len(candles)

    async def _accept(self, topic: str, candles: list[Candle]) -> None:
        pending = self._pending
        for candle in candles:
            pending[(candle.symbol, candle.interval, candle.open_time)] = candle

    async def _write(self) -> None:
        assert self._ctx is not None
        await self._ctx.storage.upsert_candles(list(self._pending.values()))
        self._pending = {}

    def _reject(self, exc: BaseException) -> None:
        self.rejected += len(self._pending)
        self._pending = {}

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        if self._store is not None:
            await self._store.flush()

    def status(self) -> dict[str, Any]:
        return {
            "ok": all(not t.done() for t in self._tasks),
            "symbols": len(self.aggregator.symbols()),
            "published": self.published,
            "caught_up_from_storage": self.caught_up,
            "takeovers": self.takeovers,
            "late_dropped": self.aggregator.late_dropped,
            "older_or_repeated": self.aggregator.duplicates,
            "other_exchange": self.aggregator.other_exchange,
            "gaps_truncated": self.aggregator.gaps_truncated,
            "from_the_future": self.from_the_future,
            "rejected": self.rejected,
            "pending": len(self._pending),
        }


plugin = PluginSpec(
    name="candles",
    kind="handler",
    description="Aggregates trades into candles for 1s to 1d and stores them",
    config_type=CandlesConfig,
    factory=CandlesPlugin,
)
