"""A collector's trades on their way to the bus: bounded, in order, coalesced into batches.

A live feed delivers one trade per frame, and a bus hand-off per trade would dominate the
cost: producers append here without awaiting, and one publisher task sends whatever
accumulated since its last hand-off as one batch. Appending never awaits, so a producer
can take trades from its sequencer and queue them with no await in between, which keeps
each symbol's order; producers wait for `room()` before reading more input, which bounds
the buffer and pushes back on the socket when the bus is slow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from cryptoviz.bus.base import Bus
from cryptoviz.models import Trade


class Outbox:
    def __init__(self, bus: Bus, topic: str, capacity: int, linger: float = 0.0) -> None:
        """`linger`: seconds the publisher waits after a first trade for more to join its
        batch, as a Kafka producer's `linger.ms` (0: publish at once)."""
        if capacity < 1 or linger < 0:
            raise ValueError("need capacity >= 1 and linger >= 0")
        self._bus = bus
        self._topic = topic
        self._capacity = capacity
        self._linger = linger
        self._items: list[Trade] = []
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.published = 0

    @property
    def pending(self) -> int:
        """Trades queued and not yet handed to the bus."""
        return len(self._items)

    def put(self, trades: Sequence[Trade]) -> None:
        """Queue trades in order. Never waits: producers call `room()` first, so the buffer
        exceeds its capacity by at most what one producer step adds."""
        if not trades:
            return
        self._items.extend(trades)
        self._idle.clear()
        self._wake.set()
        if len(self._items) >= self._capacity:
            self._room.clear()

    async def room(self) -> None:
        """Wait until the buffer is below its capacity."""
        await self._room.wait()

    async def run(self) -> None:
        """Publish forever, one batch per wake-up; run it as a kept background task."""
        while True:
            await self._wake.wait()
            if self._linger and len(self._items) < self._capacity // 2:
                await asyncio.sleep(self._linger)
            self._wake.clear()
            batch, self._items = self._items, []
            self._room.set()
            if batch:
                await self._bus.publish(self._topic, batch)
                self.published += len(batch)
            if not self._items:
                self._idle.set()

    async def drained(self) -> None:
        """Wait until everything queued so far has been handed to the bus."""
        await self._idle.wait()
