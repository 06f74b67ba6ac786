"""Trades handler: dedup -> store, in batches.

Consumes `crypto.raw.trades`. The dedup cache filters recent repeats before they reach
the database; the storage unique key (exchange, symbol, trade id) catches the rest,
including repeats from before a restart.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from cryptoviz.batching import BatchingConsumer
from cryptoviz.errors import StorageUnavailable
from cryptoviz.models import TOPIC_RAW_TRADES, Trade
from cryptoviz.plugin import PluginContext, PluginSpec
from cryptoviz.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class TradesConfig(msgspec.Struct, forbid_unknown_fields=True):
    pass


class TradesHandler:
    def __init__(self, config: TradesConfig) -> None:
        self.config = config
        self.received = 0
        self.duplicates = 0
        self.stored = 0
        self.rejected = 0
        self._pending: list[Trade] = []
        self._ctx: PluginContext | None = None
        self._consumer: BatchingConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        sub = ctx.bus.subscribe([TOPIC_RAW_TRADES], "trades", Trade)
        self._consumer = BatchingConsumer(
            sub, self._accept, self._write, lambda: len(self._pending), self._reject,
            batch_size=ctx.config.storage.batch_size, flush_ms=ctx.config.storage.flush_ms,
            draining=ctx.draining, what="storing trades",
        )  # fmt: skip
        self._task = ctx.tasks.spawn(self._consumer.run(), "trades-handler")

    async def _accept(self, topic: str, trades: list[Trade]) -> None:
        assert self._ctx is not None
        self.received += len(trades)
        seen = await self._ctx.dedup.check_and_mark([(t.exchange, t.symbol, t.trade_id) for t in trades])
        fresh = [t for t, was_seen in zip(trades, seen, strict=True) if not was_seen]
        self.duplicates += len(trades) - len(fresh)
        self._pending.extend(fresh)

    async def _write(self) -> None:
        assert self._ctx is not None
        batch = self._pending
        refused_before = self.rejected
        try:
            inserted = await self._ctx.storage.insert_trades(batch)
        except StorageUnavailable:
            raise  # retried by the consumer
        except Exception as exc:  # a row the storage refuses: keep the others
            log.error("storing trades: batch refused (%s); writing them one by one", exc)
            inserted = await self._write_one_by_one(batch)
        self.duplicates += len(batch) - inserted - (self.rejected - refused_before)
        self.stored += inserted
        self._pending = []

    async def _write_one_by_one(self, batch: list[Trade]) -> int:
        assert self._ctx is not None
        inserted = 0
        for trade in batch:
            try:
                inserted += await self._ctx.storage.insert_trades([trade])
            except StorageUnavailable:
                raise
            except Exception as exc:
                self.rejected += 1
                log.error("storing trades: refused %r: %s", trade, exc)
        return inserted

    def _reject(self, exc: BaseException) -> None:
        self.rejected += len(self._pending)
        self._pending = []

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self._consumer is not None:
            await self._consumer.flush()

    def status(self) -> dict[str, Any]:
        return {
            "ok": self._task is not None and not self._task.done(),
            "received": self.received,
            "duplicates": self.duplicates,
            "stored": self.stored,
            "rejected": self.rejected,
            "pending": len(self._pending),
        }


plugin = PluginSpec(
    name="trades",
    kind="handler",
    description="Deduplicates raw trades and stores them",
    config_type=TradesConfig,
    factory=TradesHandler,
)
