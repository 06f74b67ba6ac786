"""Consume a bus subscription and write in batches, flushed by size or by age.

The subscription is committed only after a flush succeeds, so a crash loses nothing
that the bus can redeliver; failed writes are retried with backoff and, meanwhile,
nothing more is consumed, which pushes back on producers through the bounded bus. A
write that fails for a reason retrying cannot fix is logged and set aside through
`reject`, so one bad batch never stalls the pipeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cryptoviz.bus.base import Subscription
from cryptoviz.errors import BusClosed
from cryptoviz.tasks import retry_forever

log = logging.getLogger(__name__)


class BatchingConsumer:
    def __init__(
        self,
        subscription: Subscription,
        accept: Callable[[str, list[Any]], Awaitable[None]],
        flush: Callable[[], Awaitable[None]],
        pending: Callable[[], int],
        reject: Callable[[BaseException], None],
        *,
        draining: asyncio.Event,
        batch_size: int,
        flush_ms: int,
        what: str,
    ) -> None:
        self._sub = subscription
        self._accept = accept
        self._flush = flush
        self._pending = pending
        self._reject = reject
        self._draining = draining
        self._batch_size = batch_size
        self._max_age = flush_ms / 1000
        self._what = what

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        draining = asyncio.ensure_future(self._draining.wait())
        oldest: float | None = None
        try:
            while True:
                age_left = None if oldest is None else oldest + self._max_age - loop.time()
                try:
                    message = await self._next(draining, age_left)
                except BusClosed:
                    return
                if message is None:
                    await self.flush()
                    oldest = None
                    continue
                await self._accept(*message)
                pending = self._pending()
                if pending >= self._batch_size:
                    await self.flush()
                    oldest = None
                elif pending == 0:
                    await self._sub.commit()
                elif oldest is None:
                    oldest = loop.time()
        finally:
            draining.cancel()

    async def _next(
        self, draining: asyncio.Future[Any], age_left: float | None
    ) -> tuple[str, list[Any]] | None:
        """The next message, or None when the pending rows are to be written first. No read
        is left in flight past this call: a commit must cover only what was accepted."""
        get = asyncio.ensure_future(self._sub.get())
        try:
            if age_left is not None and await self._should_flush(get, draining, age_left) and get.cancel():
                # Wait for the read to stop; unlike `await get`, this lets our own cancellation through.
                await asyncio.wait((get,))
                if get.cancelled():
                    return None
            return await get  # done, possibly just before it could be stopped: accepted as usual
        finally:
            get.cancel()  # when we are cancelled ourselves; a no-op once it is done

    async def _should_flush(
        self, get: asyncio.Future[Any], draining: asyncio.Future[Any], age_left: float
    ) -> bool:
        """Rows are pending and no message is at hand: wait for one, up to their age limit.
        Once the runtime drains, write as soon as no message is immediately ready, so a
        shutdown (and the end of a replay) does not wait out the age limit."""
        if not draining.done():
            await asyncio.wait(
                (get, draining), timeout=max(0.0, age_left), return_when=asyncio.FIRST_COMPLETED
            )
            if get.done():
                return False
            if not draining.done():
                return True  # the age limit passed
        await asyncio.sleep(0)  # a message already queued completes `get` in this turn
        return not get.done()

    async def flush(self) -> None:
        """Write what is pending (retrying until it succeeds), then commit."""
        if self._pending():
            write = asyncio.ensure_future(retry_forever(self._flush, self._what))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                await write  # a write under way completes, then the cancellation goes on
                raise
            except Exception as exc:  # not retriable: retrying the same rows cannot succeed
                log.error("%s failed for good, setting the batch aside: %s", self._what, exc)
                self._reject(exc)
        await self._sub.commit()
