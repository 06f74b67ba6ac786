"""Apache Kafka bus (aiokafka): the guide's topics keyed by symbol, consumer groups reading batches.

At-least-once: a subscription commits the offsets of what `get` returned only when its
handler calls `commit`, after its writes. Whatever was read but not committed when a
process dies or a partition moves to another consumer is delivered again, and the dedup
cache and idempotent upserts absorb the repeat. Broker outages are waited out with
capped, jittered backoff, forever.

- **Keys.** A message's key is its `symbol`, so one symbol's messages stay in order in one
  partition. A `NewsItem` names several symbols or none: its key is its `id`, which keeps
  repeats of one article together and spreads articles over the partitions.
- **Values.** msgspec JSON of the message; `subscribe`'s `message_type` decodes them. A
  value that does not decode is logged, counted and skipped, never retried.
- **Publishing** returns once the broker has acknowledged every message (acks=all), so a
  producer waits while the broker is away and the producer's buffer, one batch per
  partition, stays bounded. After a failure, messages are sent again from the first one
  not acknowledged, so a symbol's order holds (some may then arrive twice).
- **Consuming** is `kafka_consumer.py`: where a new group starts, commits, rebalances.
- **Idempotence is off.** aiokafka already sends one batch per partition at a time, which
  keeps the order, and its idempotent producer can wedge on a sequence gap after batches
  expire during a long outage; repeats are absorbed downstream anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.errors import ProducerClosed  # type: ignore[import-untyped]

from cryptoviz.bus.kafka_admin import (
    GUIDE_TOPICS,
    KafkaBusError,
    TopicAdmin,
    close_within,
    is_transient,
    retrying,
)
from cryptoviz.bus.kafka_consumer import KafkaSubscription
from cryptoviz.config import BusConfig
from cryptoviz.errors import BusClosed
from cryptoviz.tasks import backoff_delays

log = logging.getLogger(__name__)
Record = tuple[bytes | None, bytes]  # key, value


def message_key(message: Any) -> bytes | None:
    """The symbol, else the id (news), else none (round robin)."""
    for field in ("symbol", "id"):
        value = getattr(message, field, None)
        if isinstance(value, str):
            return value.encode()
    return None


class KafkaBus:
    """Topics are `kafka_topic_prefix` + the guide's names; groups `group_id` + "." + the caller's."""

    def __init__(self, config: BusConfig, *, request_timeout_ms: int = 30_000) -> None:
        """`request_timeout_ms`: how long the producer holds an unacknowledged batch before
        `publish` backs off and sends it again."""
        self.config = config
        self.closed = False
        self._request_timeout_ms = request_timeout_ms
        self._admin = TopicAdmin(
            config.kafka_bootstrap,
            partitions=config.kafka_partitions,
            replication=config.kafka_replication,
            retention_ms=int(config.kafka_retention_hours * 3_600_000),
            client_id=f"{config.group_id}-admin",
        )
        self._encoder = msgspec.json.Encoder()
        self._producer: Any = None
        self._subscriptions: list[KafkaSubscription] = []
        self._published: dict[Any, int] = {}  # partition -> offset after the last one acknowledged
        self._progress = asyncio.Event()

    def topic_name(self, topic: str) -> str:
        return self.config.kafka_topic_prefix + topic

    async def start(self) -> None:
        """Connect and create the guide's topics; waits (with backoff) for a broker that is away."""
        self.closed = False
        await self._admin.ensure(self.topic_name(t) for t in GUIDE_TOPICS)
        self._producer = await retrying("connecting the Kafka producer", self._start_producer)

    async def _start_producer(self) -> Any:
        compression = self.config.kafka_compression
        producer = AIOKafkaProducer(
            bootstrap_servers=self.config.kafka_bootstrap,
            client_id=f"{self.config.group_id}-producer",
            acks="all",
            linger_ms=self.config.kafka_linger_ms,
            compression_type=None if compression == "none" else compression,
            max_batch_size=256 * 1024,
            request_timeout_ms=self._request_timeout_ms,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def stop(self) -> None:
        """Leave the groups (committing nothing more: handlers commit what they handled),
        send what the producer still holds, disconnect."""
        self.closed = True
        await asyncio.gather(*(sub.shutdown() for sub in list(self._subscriptions)))
        producer, self._producer = self._producer, None
        if producer is not None:
            await close_within(producer.stop(), "the Kafka producer")
        await close_within(self._admin.close(), "the Kafka admin client")

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        await self._admin.ensure(self.topic_name(t) for t in topics)

    async def group_offsets(self, group: str, partitions: Sequence[Any]) -> dict[Any, int]:
        """What the consumer group `group` has committed on `partitions`, as the broker says."""
        return await self._admin.committed(group, list(partitions))

    async def publish(self, topic: str, messages: Sequence[Any]) -> None:
        """Send in order and wait until the broker has every message, however long it is away."""
        if self.closed or self._producer is None:
            raise BusClosed(f"bus stopped: cannot publish to {topic}")
        if not messages:
            return
        name = self.topic_name(topic)
        if not self._admin.known(name):
            await self._admin.ensure([name])
        encode = self._encoder.encode
        records = [(message_key(m), encode(m)) for m in messages]
        delays = backoff_delays(0.2, 30.0)
        while records:
            acknowledged, error = await self._send(name, records)
            if error is None:
                return
            if isinstance(error, ProducerClosed | BusClosed) or self.closed:
                raise BusClosed(f"bus stopped while publishing to {topic}") from error
            if not is_transient(error):
                raise KafkaBusError(f"publishing to {name}: {type(error).__name__}: {error}") from error
            records = records[acknowledged:]
            delay = next(delays)
            log.warning(
                "publishing %d messages to %s failed (%s: %s); sending them again in %.1fs",
                len(records), name, type(error).__name__, error, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)

    async def _send(self, name: str, records: list[Record]) -> tuple[int, Exception | None]:
        """(how many leading records the broker acknowledged, the first error)."""
        producer = self._producer
        futures: list[asyncio.Future[Any]] = []
        error: Exception | None = None
        try:
            for key, value in records:
                futures.append(await producer.send(name, value, key=key))
        except Exception as exc:  # the accumulator stayed full past the timeout, or closed
            error = exc
        results = await asyncio.gather(*futures, return_exceptions=True)
        acknowledged = len(futures)
        for index, result in enumerate(results):
            if isinstance(result, BaseException):
                if index < acknowledged:
                    acknowledged = index
                    # A batch cancelled under us means the producer is stopping.
                    error = result if isinstance(result, Exception) else BusClosed("producer stopped")
            else:
                tp = (result.topic, result.partition)
                self._published[tp] = max(self._published.get(tp, 0), result.offset + 1)
        return acknowledged, error

    def subscribe(self, topics: Sequence[str], group: str, message_type: type[Any]) -> KafkaSubscription:
        sub = KafkaSubscription(self, list(topics), f"{self.config.group_id}.{group}", message_type)
        self._subscriptions.append(sub)
        return sub

    def _forget(self, sub: KafkaSubscription) -> None:
        with suppress(ValueError):
            self._subscriptions.remove(sub)

    def _committed(self) -> None:
        self._progress.set()

    async def drain(self) -> None:
        """Wait until every group subscribed in this process has committed everything this
        process published to its topics. Partitions another instance consumes are checked
        against the group's offsets on the broker. The caller bounds the wait."""
        while True:
            self._progress.clear()
            if await self.behind() == 0:
                return
            with suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), 0.25)

    async def behind(self) -> int:
        """Messages published by this process that a local group has not committed yet."""
        groups: dict[str, list[KafkaSubscription]] = {}
        for sub in self._subscriptions:
            groups.setdefault(sub.group, []).append(sub)
        behind = 0
        for subs in groups.values():
            topics = {t for sub in subs for t in sub.kafka_topics}
            for (topic, partition), target in list(self._published.items()):
                if topic not in topics:
                    continue
                done = max(sub.committed.get((topic, partition), 0) for sub in subs)
                if done < target and not any(sub.owns(topic, partition) for sub in subs):
                    done = max(done, await _remote_committed(subs, topic, partition))
                behind += max(0, target - done)
        return behind

    def depths(self) -> dict[str, int]:
        """Consumer lag per subscription, in messages: the broker's last known end of each
        assigned partition minus what the subscription committed."""
        return {f"{','.join(sorted(sub.topics))}/{sub.group}": sub.lag() for sub in self._subscriptions}


async def _remote_committed(subs: list[KafkaSubscription], topic: str, partition: int) -> int:
    """The group's committed offset on the broker, through any of its started consumers; 0
    when none is started or the broker cannot say right now."""
    for sub in subs:
        offset = await sub.committed_on_broker(topic, partition)
        if offset is not None:
            return offset
    return 0
