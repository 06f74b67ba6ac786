"""Kafka consumer side of the bus: one subscription is one consumer in a consumer group.

- **Batches.** `get` hands out the records of one topic from one fetch (at most
  `max_batch`), decoded to the subscription's message type; a record that does not decode
  is logged, counted, skipped, and committed with the others.
- **Commits.** `commit` commits the offsets of every batch `get` returned so far: the
  handler calls it after its writes (at least once). A rebalance drops what was fetched but
  not committed from the partitions taken away; their next owner reads it again.
- **Where a group starts.** A group with offsets on the broker resumes from them (and a
  partition it never committed, from its beginning). A group with none, on the partitions
  it is given, starts at the moment it subscribed, found by message timestamp, as on the
  memory bus: a handler subscribed before the collectors publish misses nothing, and a
  live view (the hub's own group) does not replay the topic's whole retention. That
  start is committed at once, so from then on the group is a known one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import msgspec
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from aiokafka.abc import ConsumerRebalanceListener  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    CommitFailedError,
    ConsumerStoppedError,
    IllegalStateError,
    KafkaError,
)
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

from cryptoviz.bus.kafka_admin import KafkaBusError, close_within, is_transient, retrying
from cryptoviz.errors import BusClosed
from cryptoviz.tasks import backoff_delays

if TYPE_CHECKING:
    from cryptoviz.bus.kafka import KafkaBus

log = logging.getLogger(__name__)
POLL_MS = 500  # longest a `get` waits on the broker before checking whether the bus stopped
FETCH_MAX_BYTES = 8 * 1024 * 1024  # prefetched per consumer at most
Batch = tuple[str, list[Any], dict[Any, int]]  # topic, messages, next offset per partition


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sub: KafkaSubscription, consumer: Any) -> None:
        self._sub = sub
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self._sub.revoked({(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._sub.generation += 1
        try:
            await self._sub.position_new_group(self._consumer, list(assigned))
        except Exception as exc:  # the consumer then reads those partitions from their beginning
            log.warning(
                "group %s: where it subscribed is unknown (%s); reading from the start", self._sub.group, exc
            )


class KafkaSubscription:
    """One consumer in a group; `get` hands out one topic's records of one fetch at a time."""

    def __init__(self, bus: KafkaBus, topics: list[str], group: str, message_type: type[Any]) -> None:
        self._bus = bus
        self.topics = topics
        self.kafka_topics = [bus.topic_name(t) for t in topics]
        self._logical = dict(zip(self.kafka_topics, topics, strict=True))
        self.group = group
        self._decoder = msgspec.json.Decoder(message_type)
        self._consumer: Any = None
        self._starting: asyncio.Lock = asyncio.Lock()
        self._ready: deque[Batch] = deque()
        self._handed: dict[tuple[str, int], int] = {}  # returned by get, not committed yet
        self.committed: dict[tuple[str, int], int] = {}
        self._floor: dict[tuple[str, int], int] = {}  # first offset seen, for the lag
        self._closed = False
        self.undecodable = 0
        self._since_ms = int(time.time() * 1000)
        self.generation = 0
        """Bumped when partitions are taken away and when new ones are given (see `Subscription`)."""

    async def get(self) -> tuple[str, list[Any]]:
        while not self._ready:
            if self._closed or self._bus.closed:
                raise BusClosed("bus stopped")
            consumer = self._consumer or await self._start()
            try:
                fetched = await consumer.getmany(timeout_ms=POLL_MS, max_records=self._bus.config.max_batch)
            except ConsumerStoppedError:
                raise BusClosed("bus stopped") from None
            except KafkaError as exc:
                log.warning("reading %s for %s failed (%s); retrying", self.topics, self.group, exc)
                await asyncio.sleep(1.0)
                continue
            self._take(fetched)
        topic, messages, offsets = self._ready.popleft()
        for tp, offset in offsets.items():
            self._handed[tp] = max(self._handed.get(tp, 0), offset)
        return topic, messages

    def _take(self, fetched: dict[Any, list[Any]]) -> None:
        """Decode one fetch into one batch per topic; records that do not decode are skipped."""
        by_topic: dict[str, Batch] = {}
        for tp, records in fetched.items():
            if not records:
                continue
            key = (tp.topic, tp.partition)
            self._floor.setdefault(key, records[0].offset)
            batch = by_topic.setdefault(tp.topic, (self._logical.get(tp.topic, tp.topic), [], {}))
            decode = self._decoder.decode
            for record in records:
                try:
                    batch[1].append(decode(record.value))
                except (msgspec.DecodeError, TypeError) as exc:
                    self.undecodable += 1
                    log.error(
                        "skipping a message of %s[%d] at offset %d that is not a valid %s: %s",
                        tp.topic, tp.partition, record.offset, self._decoder.type, exc,
                    )  # fmt: skip
            batch[2][key] = records[-1].offset + 1
        for batch in by_topic.values():
            if batch[1]:
                self._ready.append(batch)
            else:  # nothing decoded: count it handled, it goes with the next commit
                for tp, offset in batch[2].items():
                    self._handed[tp] = max(self._handed.get(tp, 0), offset)

    async def _start(self) -> Any:
        async with self._starting:
            if self._consumer is None:
                await self._bus.ensure_topics(self.topics)
                self._consumer = await retrying(f"joining Kafka group {self.group}", self._new_consumer)
        return self._consumer

    async def _new_consumer(self) -> Any:
        config = self._bus.config
        consumer = AIOKafkaConsumer(
            bootstrap_servers=config.kafka_bootstrap,
            group_id=self.group,
            client_id=f"{self.group}-consumer",
            enable_auto_commit=False,
            # For a partition a known group never committed, or when where a new group
            # subscribed cannot be found: reading too much is absorbed, missing is not.
            auto_offset_reset="earliest",
            fetch_max_bytes=FETCH_MAX_BYTES,
        )
        consumer.subscribe(self.kafka_topics, listener=_Rebalance(self, consumer))
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        return consumer

    async def position_new_group(self, consumer: Any, partitions: list[Any]) -> None:
        """Partitions of a group that has committed none of them start where it subscribed,
        and that start is committed at once, so a crash before the first commit of handled
        records still finds them again."""
        if not partitions:
            return
        for tp in partitions:
            if await consumer.committed(tp) is not None:
                return  # a known group: committed partitions resume, the others start at 0
        ends = await consumer.end_offsets(partitions)  # before the lookup, so nothing falls between
        found = await consumer.offsets_for_times(dict.fromkeys(partitions, self._since_ms))
        start = {}
        for tp in partitions:
            hit = found.get(tp)
            start[tp] = hit.offset if hit is not None else ends[tp]
            consumer.seek(tp, start[tp])
        await consumer.commit(start)
        for tp, offset in start.items():
            self.committed[(tp.topic, tp.partition)] = offset

    def revoked(self, partitions: set[tuple[str, int]]) -> None:
        """A rebalance took partitions away: what was fetched from them and not committed
        goes to their next owner, from the group's committed offset."""
        self.generation += 1
        self._ready = deque(b for b in self._ready if not partitions & b[2].keys())
        for tp in partitions:
            self._handed.pop(tp, None)
            self._floor.pop(tp, None)

    async def commit(self) -> None:
        """Commit the offsets of every batch `get` returned so far, waiting out outages.
        Offsets of partitions taken away by a rebalance are dropped: those are delivered again."""
        if not self._handed or self._consumer is None:
            return
        offsets, self._handed = self._handed, {}
        delays = backoff_delays(0.2, 30.0)
        while True:
            assigned = {(tp.topic, tp.partition): tp for tp in self._consumer.assignment()}
            mine = {assigned[tp]: offset for tp, offset in offsets.items() if tp in assigned}
            if not mine:
                return
            try:
                await self._consumer.commit(mine)
                break
            except (CommitFailedError, IllegalStateError) as exc:
                log.warning("group %s rebalanced before a commit; its batch comes again: %s", self.group, exc)
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise KafkaBusError(f"committing offsets of {self.group}: {exc}") from exc
                delay = next(delays)
                log.warning("committing offsets of %s failed (%s); retrying in %.1fs", self.group, exc, delay)
                await asyncio.sleep(delay)
        for tp, offset in mine.items():
            key = (tp.topic, tp.partition)
            self.committed[key] = max(self.committed.get(key, 0), offset)
        self._bus._committed()

    async def wait_for_group(self, group: str) -> None:
        """Poll the broker until the group `<group_id>.<group>` has committed, on each partition
        this consumer holds, at least this group's committed offset (see `Subscription`)."""
        consumer = self._consumer
        partitions = [] if consumer is None else list(consumer.assignment())
        if consumer is None or not partitions:
            return
        other = f"{self._bus.config.group_id}.{group}"
        target: dict[Any, int] | None = None
        while True:
            try:
                if target is None:  # a partition this group never committed had no earlier owner
                    committed = {tp: await consumer.committed(tp) for tp in partitions}
                    target = {tp: int(offset) for tp, offset in committed.items() if offset is not None}
                done = await self._bus.group_offsets(other, partitions)
                if all(done.get(tp, -1) >= offset for tp, offset in target.items()):
                    return
            except (KafkaError, OSError) as exc:
                log.warning("reading the offsets of group %s failed (%s); retrying", other, exc)
            await asyncio.sleep(0.2)

    async def committed_on_broker(self, topic: str, partition: int) -> int | None:
        if self._consumer is None:
            return None
        try:
            offset = await asyncio.wait_for(self._consumer.committed(_partition(topic, partition)), 5)
        except (KafkaError, TimeoutError, OSError):
            return None
        return None if offset is None else int(offset)

    def owns(self, topic: str, partition: int) -> bool:
        """Whether this consumer holds the partition now (its commits are then the group's)."""
        if self._consumer is None:
            return False
        return any(tp.topic == topic and tp.partition == partition for tp in self._consumer.assignment())

    def lag(self) -> int:
        if self._consumer is None:
            return 0
        total = 0
        for tp in self._consumer.assignment():
            end = self._consumer.highwater(tp)
            key = (tp.topic, tp.partition)
            start = self.committed.get(key, self._floor.get(key))
            if end is not None and start is not None:
                total += max(0, int(end) - start)
        return total

    async def close(self) -> None:
        """Commit what was handled and leave the group."""
        await self.commit()
        await self.shutdown()

    async def shutdown(self) -> None:
        self._closed = True
        self._bus._forget(self)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await close_within(consumer.stop(), f"the Kafka consumer of {self.group}")


def _partition(topic: str, partition: int) -> Any:
    return TopicPartition(topic, partition)
