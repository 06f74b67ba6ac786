"""Trades counted per (exchange, symbol) where they cross the bus.

`CountingBus` wraps the runtime's bus: what collectors publish on `crypto.raw.trades`,
and what the trades handler's group reads from it, is counted a batch at a time with
`Counter.update` over an `attrgetter`, both in C, so a trade costs a tuple and a dict
increment. Everything else is handed to the wrapped bus untouched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from cryptoviz.bus.base import Bus, Subscription
from cryptoviz.models import TOPIC_RAW_TRADES

Pair = tuple[str, str]
_PAIR = attrgetter("exchange", "symbol")
HANDLER_GROUP = "trades"
"""The trades handler's consumer group: what it reads is what the appliance ingests."""


class TradeCounts:
    """Trades seen per (exchange, symbol) since the process started."""

    def __init__(self) -> None:
        self.pairs: Counter[Pair] = Counter()

    def add(self, trades: Iterable[Any]) -> None:
        self.pairs.update(map(_PAIR, trades))


class CountingSubscription:
    """A subscription whose batches are counted as they are handed out."""

    def __init__(self, inner: Subscription, counts: TradeCounts) -> None:
        self._inner = inner
        self._counts = counts

    async def get(self) -> tuple[str, list[Any]]:
        topic, messages = await self._inner.get()
        if topic == TOPIC_RAW_TRADES:
            self._counts.add(messages)
        return topic, messages

    async def commit(self) -> None:
        await self._inner.commit()

    async def close(self) -> None:
        await self._inner.close()

    @property
    def generation(self) -> int:
        return self._inner.generation

    async def wait_for_group(self, group: str) -> None:
        await self._inner.wait_for_group(group)

    def __getattr__(self, name: str) -> Any:
        """Backend extras (a Kafka subscription's lag, its consumer) stay reachable."""
        return getattr(self._inner, name)


class CountingBus:
    """The runtime's bus with trade counts on the raw trades topic."""

    def __init__(self, inner: Bus) -> None:
        self.inner = inner
        self.published = TradeCounts()
        """Trades the collectors published."""
        self.received = TradeCounts()
        """Trades the trades handler read (repeats included: the dedup sorts them out)."""

    async def start(self) -> None:
        await self.inner.start()

    async def stop(self) -> None:
        await self.inner.stop()

    async def publish(self, topic: str, messages: Sequence[Any]) -> None:
        await self.inner.publish(topic, messages)
        if topic == TOPIC_RAW_TRADES:  # counted once the bus took them
            self.published.add(messages)

    def subscribe(self, topics: Sequence[str], group: str, message_type: type[Any]) -> Subscription:
        sub = self.inner.subscribe(topics, group, message_type)
        if group == HANDLER_GROUP and TOPIC_RAW_TRADES in topics:
            return CountingSubscription(sub, self.received)
        return sub

    async def drain(self) -> None:
        await self.inner.drain()

    def depths(self) -> dict[str, int]:
        return self.inner.depths()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
