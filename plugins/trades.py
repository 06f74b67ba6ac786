"""Trades handler: dedup -> store, in batches.

Consumes `crypto.raw.trades`. The dedup cache filters recent repeats before they reach
the database; the storage unique key (exchange, symbol, trade id) catches the rest,
including repeats from before a restart.
"""

from __future__ import annotations

import asyncio
from operator import attrgetter
from typing import Any

import msgspec

from cryptoviz.batching import BatchingConsumer
from cryptoviz.dedup.writer import DedupWriter
from cryptoviz.models import TOPIC_RAW_TRADES, Trade
from cryptoviz.plugin import PluginContext, PluginSpec
from cryptoviz.tasks import cancel_and_wait


class TradesConfig(msgspec.Struct, forbid_unknown_fields=True):
    pass


trade_key = attrgetter("exchange", "symbol", "trade_id")
"""The storage unique key of a trade, built in C: this runs for every trade."""


class TradesHandler:
    def __init__(self, config: TradesConfig) -> None:
        self.config = config
        self.writer: DedupWriter[Trade] | None = None
        self._consumer: BatchingConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, ctx: PluginContext) -> None:
        self.writer = DedupWriter("storing trades", trade_key, ctx.storage.insert_trades)
        sub = ctx.bus.subscribe([TOPIC_RAW_TRADES], "trades", Trade)
        self._consumer = self.writer.consumer(ctx, sub)
        self._task = ctx.tasks.spawn(self._consumer.run(), "trades-handler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self._consumer is not None:
            await self._consumer.flush()

    def status(self) -> dict[str, Any]:
        counts = self.writer.counts() if self.writer else {}
        return {"ok": self._task is not None and not self._task.done(), **counts}


plugin = PluginSpec(
    name="trades",
    kind="handler",
    description="Deduplicates raw trades and stores them",
    config_type=TradesConfig,
    factory=TradesHandler,
)
