"""The bus seam, modelled on Litestar's ChannelsBackend and Kafka consumer groups.

Every group subscribed to a topic receives every message of it; consumers in one group
share the messages. Messages go in batches (lists) because per-message hand-offs
dominate the cost of a Python pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Subscription(Protocol):
    """One consumer's view of its group's stream."""

    async def get(self) -> tuple[str, list[Any]]:
        """Wait for the next batch: (topic, messages). Raises BusClosed once the bus stops."""

    async def commit(self) -> None:
        """Mark the batch from the last `get` as handled (at-least-once delivery)."""

    async def close(self) -> None:
        """Leave the group."""

    @property
    def generation(self) -> int:
        """Changes whenever the group moves partitions to or from this consumer (a Kafka
        rebalance), so a handler that keeps state per key knows it may now be stale.
        Constant on the memory bus, whose groups never move work."""

    async def wait_for_group(self, group: str) -> None:
        """Wait until the consumer group `group` on the same topics has committed, on every
        partition this consumer holds, at least what this consumer's group has: whatever
        this group handled before the partitions came here, that one has handled too.
        Returns at once on the memory bus; the caller bounds the wait."""


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, messages: Sequence[Any]) -> None:
        """Publish messages in order; waits while a subscriber's queue is full."""

    def subscribe(self, topics: Sequence[str], group: str, message_type: type[Any]) -> Subscription:
        """Join `group` on `topics`; messages decode to `message_type` where the bus serialises."""

    async def drain(self) -> None:
        """Wait until every published message has been handled (graceful shutdown)."""

    def depths(self) -> dict[str, int]:
        """Pending batches per `topic/group`, for /ready and metrics."""
