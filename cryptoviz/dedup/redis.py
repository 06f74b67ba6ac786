"""Redis dedup, shared by every instance: one script call per batch to ask which keys
exist, and one running `SET <key> 1 NX PX <ttl>` on each key of a stored batch to mark.

A key that exists was stored by some instance. Keys are `<redis_key_prefix>:` + the parts
of the key joined by `:`, e.g. `cryptoviz:dedup:binance:BTCUSDT:123`, and expire after
`ttl_seconds`.

When Redis cannot be reached (refused, timed out, or refusing writes), the local FIFO cache
takes over at once and `status()` reports `degraded`. A probe retries Redis with capped,
jittered backoff and switches back when it answers. The local cache is also kept warm
while Redis works, so the switch forgets nothing this instance saw recently. While
degraded each instance knows only its own keys: a repeat across instances, or of a key
first seen during the outage, is not caught here, and the storage unique keys, which
are the final word anyway, reject it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable, Sequence

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from cryptoviz.dedup.memory import MemoryDedup
from cryptoviz.secrets import redacted
from cryptoviz.tasks import backoff_delays

log = logging.getLogger(__name__)
MAX_CONNECTIONS = 8
CHUNK = 5000
"""Keys per Redis call: Redis runs one call at a time, so a huge one would stall the others."""
SEEN = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('EXISTS', KEYS[i]) end
return table.concat(out)
"""
"""Which keys exist, as one string of 0s and 1s: with one reply per key (MGET), redis-py
spends ~10 µs parsing each key; one string costs nothing per key."""
MARK = """
for i = 1, #KEYS do redis.call('SET', KEYS[i], '1', 'NX', 'PX', ARGV[1]) end
return #KEYS
"""
"""Mark a batch in one call: a pipeline of SETs costs redis-py ~60 µs of parsing per key.
NX keeps the expiry of a key already marked, by this instance or another."""
UNREACHABLE = (RedisError, OSError, TimeoutError)


def redis_key(prefix: str, key: Hashable) -> str:
    """`(exchange, symbol, id)` -> `<prefix>:exchange:symbol:id`."""
    parts = key if isinstance(key, tuple) else (key,)
    return ":".join([prefix, *map(str, parts)])


class RedisDedup:
    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float,
        max_entries: int,
        prefix: str = "cryptoviz:dedup",
        timeout_seconds: float = 2.0,
        retry_base: float = 0.5,
        retry_cap: float = 30.0,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._timeout = timeout_seconds
        self._retry = (retry_base, retry_cap)
        self._local = MemoryDedup(max_entries, ttl_seconds)
        self._client: Redis | None = None
        self._seen_script: AsyncScript | None = None
        self._mark_script: AsyncScript | None = None
        self._probe: asyncio.Task[None] | None = None
        self.degraded = False
        self.fallbacks = 0
        self.last_error = ""
        self.hits = 0
        self.misses = 0

    async def start(self) -> None:
        """Connect; a Redis that is away does not stop the start, it starts degraded."""
        pool = BlockingConnectionPool.from_url(
            self._url,
            max_connections=MAX_CONNECTIONS,
            timeout=self._timeout,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            # One immediate retry on a fresh connection: a pooled one may have died with a
            # Redis restart. A second failure switches to the local cache.
            retry=Retry(NoBackoff(), 1),
        )
        self._client = Redis.from_pool(pool)
        # redis-py loads a script again when a restarted Redis has forgotten it.
        self._seen_script = self._client.register_script(SEEN)
        self._mark_script = self._client.register_script(MARK)
        try:
            await asyncio.wait_for(self._client.ping(), self._timeout)
        except UNREACHABLE as exc:
            self._fall_back(exc)

    async def stop(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        await self._local.stop()

    async def seen(self, keys: Sequence[Hashable]) -> list[bool]:
        seen = self._local.lookup(keys)
        if not self.degraded and self._client is not None and keys:
            try:
                stored = await self._exists(self._client, keys)
            except UNREACHABLE as exc:
                self._fall_back(exc)
            else:
                seen = [local or remote for local, remote in zip(seen, stored, strict=True)]
        hits = seen.count(True)
        self.hits += hits
        self.misses += len(seen) - hits
        return seen

    async def mark(self, keys: Sequence[Hashable]) -> None:
        # The local cache is kept warm too, so a switch to it forgets nothing recent.
        self._local.remember(keys)
        if not self.degraded and self._client is not None and keys:
            try:
                await self._set(self._client, keys)
            except UNREACHABLE as exc:
                self._fall_back(exc)

    async def _exists(self, client: Redis, keys: Sequence[Hashable]) -> list[bool]:
        assert self._seen_script is not None  # registered with the client
        names = [redis_key(self._prefix, key) for key in keys]
        found: list[bool] = []
        for start in range(0, len(names), CHUNK):
            chunk = names[start : start + CHUNK]
            flags = await asyncio.wait_for(self._seen_script(keys=chunk), self._timeout * 2)
            found.extend(flag == ord("1") for flag in flags)
        return found

    async def _set(self, client: Redis, keys: Sequence[Hashable]) -> None:
        assert self._mark_script is not None  # registered with the client
        names = [redis_key(self._prefix, key) for key in keys]
        for start in range(0, len(names), CHUNK):
            chunk = names[start : start + CHUNK]
            await asyncio.wait_for(self._mark_script(keys=chunk, args=[self._ttl_ms]), self._timeout * 2)

    def _fall_back(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        if not self.degraded:
            self.degraded = True
            self.fallbacks += 1
            log.warning(
                "dedup: Redis at %s unreachable (%s); using the local cache until it answers",
                redacted(self._url), self.last_error,
            )  # fmt: skip
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._probe_until_back(), name="redis-dedup-probe")

    async def _probe_until_back(self) -> None:
        for delay in backoff_delays(*self._retry):
            await asyncio.sleep(delay)
            client = self._client
            if client is None:
                return
            try:
                # Connections opened before the outage are dead: drop them all first.
                await client.connection_pool.disconnect()
                await asyncio.wait_for(client.ping(), self._timeout)
            except UNREACHABLE as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            self.degraded = False
            log.info("dedup: Redis at %s answers again; back on it", redacted(self._url))
            return

    def status(self) -> dict[str, object]:
        return {
            "backend": "redis",
            "degraded": self.degraded,
            "url": redacted(self._url),
            "hits": self.hits,
            "misses": self.misses,
            "fallbacks": self.fallbacks,
            "local_entries": self._local.status()["entries"],
            "last_error": self.last_error,
        }
