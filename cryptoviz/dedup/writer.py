"""Consume a topic and store each item once: ask the dedup, write the fresh items in
batches, then mark them. Shared by the trades and news handlers.

The order matters. Marking before the write would lose data on a crash in between: the
bus redelivers what was not committed, and a shared dedup (Redis) outlives the process,
so the redelivered items would be dropped as repeats although they were never stored.
Marking after the write leaves, at worst, an item stored but unmarked, which the storage
unique key absorbs when it comes again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from cryptoviz.batching import BatchingConsumer
from cryptoviz.bus.base import Subscription
from cryptoviz.errors import StorageUnavailable
from cryptoviz.plugin import PluginContext

log = logging.getLogger(__name__)
T = TypeVar("T")


class DedupWriter(Generic[T]):
    """Counters: `received` from the bus, `duplicates` (by the dedup or the storage key),
    `stored`, and `rejected` (refused by the storage for a reason retrying cannot fix)."""

    def __init__(
        self,
        what: str,
        key: Callable[[T], Hashable],
        insert: Callable[[list[T]], Awaitable[int]],
        describe: Callable[[T], str] = repr,
    ) -> None:
        self.what = what
        self._key = key
        self._insert = insert
        self._describe = describe
        self.received = 0
        self.duplicates = 0
        self.stored = 0
        self.rejected = 0
        self._pending: list[T] = []
        self._pending_keys: set[Hashable] = set()
        self._ctx: PluginContext | None = None

    def consumer(self, ctx: PluginContext, subscription: Subscription) -> BatchingConsumer:
        self._ctx = ctx
        return BatchingConsumer(
            subscription, self._accept, self._write, lambda: len(self._pending), self._reject,
            batch_size=ctx.config.storage.batch_size, flush_ms=ctx.config.storage.flush_ms,
            draining=ctx.draining, what=self.what,
        )  # fmt: skip

    @property
    def pending(self) -> int:
        return len(self._pending)

    def counts(self) -> dict[str, int]:
        return {
            "received": self.received,
            "duplicates": self.duplicates,
            "stored": self.stored,
            "rejected": self.rejected,
            "pending": len(self._pending),
        }

    async def _accept(self, topic: str, items: list[T]) -> None:
        assert self._ctx is not None
        self.received += len(items)
        keys = [self._key(item) for item in items]
        seen = await self._ctx.dedup.seen(keys)
        pending_keys = self._pending_keys
        fresh = 0
        for item, key, was_seen in zip(items, keys, seen, strict=True):
            if not was_seen and key not in pending_keys:  # not yet written, nor waiting to be
                pending_keys.add(key)
                self._pending.append(item)
                fresh += 1
        self.duplicates += len(items) - fresh

    async def _write(self) -> None:
        assert self._ctx is not None
        batch = self._pending
        refused: list[T] = []
        try:
            inserted = await self._insert(batch)
        except StorageUnavailable:
            raise  # retried by the consumer
        except Exception as exc:  # a row the storage refuses: keep the others
            log.error("%s: batch refused (%s); writing them one by one", self.what, exc)
            inserted = await self._write_one_by_one(batch, refused)
        self.duplicates += len(batch) - inserted - len(refused)
        self.stored += inserted
        self.rejected += len(refused)
        stored_keys = self._pending_keys.difference(self._key(item) for item in refused)
        await self._ctx.dedup.mark(list(stored_keys))
        self._clear()

    async def _write_one_by_one(self, batch: list[T], refused: list[T]) -> int:
        inserted = 0
        for item in batch:
            try:
                inserted += await self._insert([item])
            except StorageUnavailable:
                raise
            except Exception as exc:
                refused.append(item)
                log.error("%s: refused %s: %s", self.what, self._describe(item), exc)
        return inserted

    def _reject(self, exc: BaseException) -> None:
        self.rejected += len(self._pending)
        self._clear()

    def _clear(self) -> None:
        self._pending = []
        self._pending_keys = set()
