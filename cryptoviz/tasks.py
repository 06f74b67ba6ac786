"""Background tasks with kept references, and retry delays that never give up."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from cryptoviz.errors import CryptovizError

log = logging.getLogger(__name__)
T = TypeVar("T")


def backoff_delays(base: float = 0.1, cap: float = 30.0, rng: random.Random | None = None) -> Iterator[float]:
    """Capped exponential backoff with full jitter, forever (AWS architecture blog's "full jitter")."""
    rand = rng or random.Random()
    attempt = 0
    while True:
        yield rand.uniform(0, min(cap, base * 2**attempt))
        attempt = min(attempt + 1, 30)


async def retry_forever(
    operation: Callable[[], Awaitable[T]], what: str, *, base: float = 0.1, cap: float = 30.0
) -> T:
    """Run `operation` until it succeeds, waiting a jittered, capped backoff after retriable errors.

    Non-retriable `CryptovizError`s and programming errors propagate: retrying cannot fix them.
    """
    delays = backoff_delays(base, cap)
    while True:
        try:
            return await operation()
        except CryptovizError as exc:
            if not exc.retriable:
                raise
            delay = next(delays)
            log.warning("%s failed (%s); retrying in %.2fs", what, exc, delay)
            await asyncio.sleep(delay)


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel tasks and wait until they have finished, whatever they raise."""
    live = [t for t in tasks if t is not None]
    for task in live:
        task.cancel()
    await asyncio.gather(*live, return_exceptions=True)


class Supervisor:
    """Owns background tasks: keeps references, logs crashes, cancels them all on stop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.crashes = 0

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.crashes += 1
            log.error("task %s crashed", task.get_name(), exc_info=task.exception())

    async def cancel_all(self) -> None:
        await cancel_and_wait(*self._tasks)
