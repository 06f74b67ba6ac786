"""In-process bus: one bounded queue per (topics, group), so a fast producer waits."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from cryptoviz.errors import BusClosed

Batch = tuple[str, list[Any]]
_CLOSED: Batch = ("", [])


class MemorySubscription:
    generation = 0  # one process, one consumer per group and topics: nothing ever moves

    def __init__(self, bus: MemoryBus, queue: asyncio.Queue[Batch]) -> None:
        self._bus = bus
        self._queue = queue
        self._received = 0

    async def get(self) -> Batch:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # wake the group's other consumers too
            raise BusClosed("bus stopped")
        self._received += 1
        return item

    async def commit(self) -> None:
        """Mark every batch received so far as handled (like committing Kafka offsets)."""
        if self._received:
            self._bus._handled(self._received)
            self._received = 0

    async def close(self) -> None:
        await self.commit()

    async def wait_for_group(self, group: str) -> None:
        return  # no partition ever moves here: nothing to wait for


class MemoryBus:
    """Topics and consumer groups in memory; batches are handed over by reference.

    Each (topics, group) pair has one bounded queue: every group sees every message,
    consumers of one group share them, and a full queue makes the producer wait.
    """

    def __init__(self, queue_batches: int = 64, max_batch: int = 1000) -> None:
        self._queue_batches = queue_batches
        self._max_batch = max_batch
        self._routes: dict[str, list[asyncio.Queue[Batch]]] = {}
        self._queues: dict[tuple[frozenset[str], str], asyncio.Queue[Batch]] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    async def stop(self) -> None:
        self._closed = True
        for queue in self._queues.values():
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(_CLOSED)
        self._in_flight = 0
        self._idle.set()

    async def publish(self, topic: str, messages: Sequence[Any]) -> None:
        if self._closed:
            raise BusClosed(f"bus stopped: cannot publish to {topic}")
        queues = self._routes.get(topic)
        if not queues or not messages:
            return
        step = self._max_batch
        for start in range(0, len(messages), step):
            chunk = list(messages[start : start + step])
            for queue in queues:
                await queue.put((topic, chunk))
                # Counted once queued (no await between the put and here): a publish
                # cancelled while waiting for room leaves nothing half-counted.
                self._in_flight += 1
                self._idle.clear()

    def subscribe(self, topics: Sequence[str], group: str, message_type: type[Any]) -> MemorySubscription:
        key = (frozenset(topics), group)
        queue = self._queues.get(key)
        if queue is None:
            queue = asyncio.Queue(self._queue_batches)
            self._queues[key] = queue
            for topic in topics:
                self._routes.setdefault(topic, []).append(queue)
        return MemorySubscription(self, queue)

    async def drain(self) -> None:
        await self._idle.wait()

    def depths(self) -> dict[str, int]:
        return {
            f"{','.join(sorted(topics))}/{group}": q.qsize() for (topics, group), q in self._queues.items()
        }

    def _handled(self, batches: int) -> None:
        self._in_flight -= batches
        if self._in_flight <= 0:
            self._in_flight = 0
            self._idle.set()
