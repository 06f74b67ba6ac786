"""RedisDedup against a real Redis: shared marks, expiry, and the local fallback while Redis
is away, reported as `degraded` in /ready, with the way back once it answers again."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from cryptoviz.dedup.redis import RedisDedup, redis_key
from cryptoviz.plugin import discover, select
from cryptoviz.runtime import Runtime
from cryptoviz.secrets import redacted
from tests.conftest import make_config
from tests.servers import RedisServer

DEADLINE = 60.0


def make(url: str, prefix: str, **changes: float) -> RedisDedup:
    settings: dict[str, float] = {"ttl_seconds": 60.0, "retry_base": 0.05, "retry_cap": 0.5, **changes}
    ttl = settings.pop("ttl_seconds")
    return RedisDedup(url, ttl_seconds=ttl, max_entries=1000, prefix=prefix, timeout_seconds=1.0, **settings)


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def dedup(redis_url: str, prefix: str) -> AsyncIterator[RedisDedup]:
    dedup = make(redis_url, prefix)
    await dedup.start()
    yield dedup
    await dedup.stop()


async def eventually(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    async def holds() -> bool:
        result = condition()
        return await result if inspect.isawaitable(result) else bool(result)

    async def loop() -> None:
        while not await holds():  # noqa: ASYNC110 - polls state that no event announces
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(loop(), DEADLINE)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


async def test_asking_marks_nothing(dedup: RedisDedup) -> None:
    keys = [("binance", "BTCUSDT", 1), ("binance", "BTCUSDT", 2), ("binance", "BTCUSDT", 1)]
    assert await dedup.seen(keys) == [False, False, False]
    assert await dedup.seen(keys) == [False, False, False]  # asking marked nothing
    await dedup.mark(keys)
    assert await dedup.seen([("binance", "BTCUSDT", 2), ("news", "abc")]) == [True, False]
    status = dedup.status()
    assert status["degraded"] is False
    assert (status["hits"], status["misses"]) == (1, 7)


async def test_keys_are_namespaced_and_expire_after_the_ttl(redis_url: str, prefix: str) -> None:
    dedup = make(redis_url, prefix, ttl_seconds=30.0)
    await dedup.start()
    client = Redis.from_url(redis_url)
    try:
        await dedup.mark([("binance", "ETHUSDT", 42)])
        name = f"{prefix}:binance:ETHUSDT:42"
        assert redis_key(prefix, ("binance", "ETHUSDT", 42)) == name
        assert 0 < await client.pttl(name) <= 30_000
    finally:
        await client.aclose()
        await dedup.stop()


async def test_an_expired_key_is_new_again(redis_url: str, prefix: str) -> None:
    dedup = make(redis_url, prefix, ttl_seconds=0.2)
    await dedup.start()
    client = Redis.from_url(redis_url)
    try:
        await dedup.mark(["k"])
        assert await dedup.seen(["k"]) == [True]

        async def expired() -> bool:
            return not await client.exists(f"{prefix}:k")

        await eventually(expired, "Redis to expire the key")
        assert await dedup.seen(["k"]) == [False]  # the local copy expired first
    finally:
        await client.aclose()
        await dedup.stop()


async def test_instances_share_what_they_have_seen(redis_url: str, prefix: str) -> None:
    first, second = make(redis_url, prefix), make(redis_url, prefix)
    await first.start()
    await second.start()
    try:
        await first.mark([("x", "A", 1)])
        assert await second.seen([("x", "A", 1), ("x", "A", 2)]) == [True, False]
    finally:
        await first.stop()
        await second.stop()


async def test_falls_back_while_redis_is_away_and_returns_when_it_answers(
    redis_factory: Callable[[], RedisServer], prefix: str
) -> None:
    server = redis_factory()
    dedup, peer = make(server.url, prefix), make(server.url, prefix)
    await dedup.start()
    await peer.start()
    try:
        await dedup.mark(["before"])
        server.kill()
        # Degraded: the local cache answers, and it still knows what this instance marked.
        assert await dedup.seen(["before", "during"]) == [True, False]
        await dedup.mark(["during"])  # a mark while Redis is away is kept locally, never raises
        assert await dedup.seen(["during"]) == [True]
        status = dedup.status()
        assert status["degraded"] is True
        assert status["fallbacks"] == 1
        assert status["last_error"]

        server.start()
        await eventually(lambda: not dedup.status()["degraded"], "the dedup to return to Redis")
        assert await dedup.seen(["after"]) == [False]
        await dedup.mark(["after"])
        assert await peer.seen(["after"]) == [True]  # shared through Redis again
        assert dedup.status()["fallbacks"] == 1
    finally:
        await dedup.stop()
        await peer.stop()


async def test_a_start_without_redis_runs_degraded_and_ready(
    redis_factory: Callable[[], RedisServer], tmp_path: Path
) -> None:
    server = redis_factory()
    server.stop()
    config = make_config(
        tmp_path,
        PLUGINS__ENABLED='["trades"]',
        DEDUP__BACKEND="redis",
        DEDUP__REDIS_URL=server.url,
        DEDUP__REDIS_TIMEOUT_SECONDS="1.0",
    )
    runtime = Runtime(config, select(config, discover()))
    await asyncio.wait_for(runtime.start(), DEADLINE)
    try:
        ok, details = await runtime.readiness()
        assert ok is True  # degraded is still serving: storage keys remain the final word
        assert details["dedup"]["state"] == "degraded"
        assert details["dedup"]["backend"] == "redis"
        assert await runtime.dedup.seen([("x", "B", 1)]) == [False]
        await runtime.dedup.mark([("x", "B", 1)])
        assert await runtime.dedup.seen([("x", "B", 1)]) == [True]
        server.start()
        await eventually(lambda: not runtime.dedup.status()["degraded"], "Redis to be used again")
        _, details = await runtime.readiness()
        assert details["dedup"]["state"] == "ok"
    finally:
        await runtime.stop()


def test_the_password_never_shows() -> None:
    assert redacted("redis://app:s3cret@cache.internal:6380/2") == "redis://app:***@cache.internal:6380/2"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
