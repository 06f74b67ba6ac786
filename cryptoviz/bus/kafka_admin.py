"""Kafka topics and broker errors for the Kafka bus: which topics exist, how they are
created, and which failures are worth waiting out.

Topics are created by the application, with the configured partitions, replication and
retention, rather than left to the broker's auto-creation, whose defaults are the
broker's and usually wrong for us (one partition, the broker's retention).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    for_code,
)

from cryptoviz.errors import CryptovizError
from cryptoviz.models import (
    INDICATOR_TYPES,
    INTERVALS,
    TOPIC_NEWS,
    TOPIC_RAW_TRADES,
    candle_topic,
    indicator_topic,
)
from cryptoviz.tasks import backoff_delays

log = logging.getLogger(__name__)
T = TypeVar("T")
TOPIC_EXISTS = 36
CLOSE_S = 10.0  # longest each client may take to close, so a dead broker cannot hold the shutdown

GUIDE_TOPICS: tuple[str, ...] = (
    TOPIC_RAW_TRADES,
    *(candle_topic(i) for i in INTERVALS),
    *(indicator_topic(k) for k in INDICATOR_TYPES),
    TOPIC_NEWS,
)
"""Every topic the product uses, created when the bus starts."""


class KafkaBusError(CryptovizError):
    """The broker refused something that retrying cannot fix (a bad topic setting, a
    message over the size limit); the message says what."""


def is_transient(exc: BaseException) -> bool:
    """Whether waiting can fix it: the broker is away, slow, or electing a leader."""
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError | OSError | TimeoutError):
        return True
    return isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))


async def retrying(what: str, operation: Callable[[], Awaitable[T]], *, cap: float = 30.0) -> T:
    """Run `operation` until it succeeds, waiting a capped, jittered backoff after each
    transient failure, forever. Other failures propagate as `KafkaBusError`."""
    delays = backoff_delays(0.2, cap)
    while True:
        try:
            return await operation()
        except Exception as exc:
            if not is_transient(exc):
                if isinstance(exc, KafkaError):
                    raise KafkaBusError(f"{what}: {type(exc).__name__}: {exc}") from exc
                raise
            delay = next(delays)
            log.warning("%s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)


async def close_within(closing: Awaitable[Any], what: str) -> None:
    """Close within CLOSE_S; a broker that is away only gets a warning."""
    try:
        await asyncio.wait_for(closing, CLOSE_S)
    except TimeoutError:
        log.warning("%s did not close within %.0fs; left behind", what, CLOSE_S)
    except KafkaError as exc:
        log.warning("%s closed with an error: %s", what, exc)


class TopicAdmin:
    """Creates topics once each; remembers which exist so publishing stays cheap."""

    def __init__(
        self, bootstrap: str, *, partitions: int, replication: int, retention_ms: int, client_id: str
    ) -> None:
        self._bootstrap = bootstrap
        self._partitions = partitions
        self._replication = replication
        self._retention_ms = retention_ms
        self._client_id = client_id
        self._known: set[str] = set()
        self._client: Any = None
        self._lock = asyncio.Lock()

    def known(self, topic: str) -> bool:
        return topic in self._known

    async def ensure(self, topics: Iterable[str]) -> None:
        """Create whichever of `topics` do not exist yet, waiting out broker outages."""
        missing = [t for t in dict.fromkeys(topics) if t not in self._known]
        if not missing:
            return
        async with self._lock:
            missing = [t for t in missing if t not in self._known]
            if missing:
                more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
                await retrying(f"creating Kafka topic {missing[0]}{more}", lambda: self._create(missing))

    async def _create(self, topics: list[str]) -> None:
        client = await self._connected()
        config = {"retention.ms": str(self._retention_ms)}
        try:
            response = await client.create_topics(
                [NewTopic(t, self._partitions, self._replication, topic_configs=config) for t in topics]
            )
        except Exception:
            await self.close()  # a fresh client next time: the old one may hold a dead connection
            raise
        created: list[str] = []
        for topic, code, message in _topic_errors(response):
            if code not in (0, TOPIC_EXISTS):
                error = for_code(code)
                if getattr(error, "retriable", False):
                    raise error(message or topic)
                raise KafkaBusError(f"cannot create Kafka topic {topic}: {error.__name__}: {message}")
            if code == 0:
                created.append(topic)
        if created:
            log.info(
                "created Kafka topics %s (%d partitions, replication %d)",
                ", ".join(created), self._partitions, self._replication,
            )  # fmt: skip
            await _until_led(client, created)
        self._known.update(topics)

    async def _connected(self) -> Any:
        if self._client is None:
            client = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
            try:
                await client.start()
            except BaseException:
                await client.close()
                raise
            self._client = client
        return self._client

    async def committed(self, group: str, partitions: list[Any]) -> dict[Any, int]:
        """The offsets `group` has committed on `partitions`; a partition it never committed is absent."""
        try:
            found = await (await self._connected()).list_consumer_group_offsets(group, partitions=partitions)
        except Exception:
            await self.close()  # a fresh client next time: the old one may hold a dead connection
            raise
        return {tp: int(meta.offset) for tp, meta in found.items() if meta.offset >= 0}

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()


async def _until_led(client: Any, topics: list[str], patience: float = 10.0) -> None:
    """Wait (a little) until every partition of new topics has a leader, so the first
    producers and consumers do not each log that the topic is missing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while loop.time() < deadline:
        described = await client.describe_topics(topics)
        if all(
            d.get("error_code") == 0
            and d.get("partitions")
            and all(p.get("leader", -1) >= 0 for p in d["partitions"])
            for d in described
        ):
            return
        await asyncio.sleep(0.1)


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    """(topic, error code, message) from any CreateTopics response version."""
    result: list[tuple[str, int, str | None]] = []
    for entry in response.topic_errors:
        topic, code = str(entry[0]), int(entry[1])
        message = str(entry[2]) if len(entry) > 2 and entry[2] is not None else None
        result.append((topic, code, message))
    return result
