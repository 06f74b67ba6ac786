"""Close WebSocket clients with 1001 before the server drops their connections.

granian stops on SIGTERM or SIGINT through the event loop's signal handlers, and it drops
open WebSockets (clients see 1006) before the ASGI lifespan shutdown runs, so closing them
there would be too late. When such handlers are installed on the running loop, they are
wrapped: the hub's clients are closed first (bounded in time), then the server's own
handler runs as before (see `create_app`). Under any other server nothing changes, and
the lifespan shutdown closes the clients.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class SignalChain:
    """Runs `before` on the first stop signal, then the handler that was there."""

    def __init__(self, before: Callable[[], Awaitable[None]]) -> None:
        self.before = before
        self.task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._originals: dict[int, tuple[Callable[..., Any], tuple[Any, ...]]] = {}

    def install(self) -> bool:
        """Wrap the running loop's stop handlers; False (and nothing done) when there are none."""
        loop = asyncio.get_running_loop()
        handlers = getattr(loop, "_signal_handlers", None)
        if not isinstance(handlers, dict):
            return False
        for sig in map(int, SIGNALS):
            handle = handlers.get(sig)
            callback = getattr(handle, "_callback", None)
            if callback is not None:
                self._originals[sig] = (callback, tuple(getattr(handle, "_args", ())))
        if not self._originals:
            return False
        self._loop = loop
        for sig in self._originals:
            loop.add_signal_handler(sig, self._on_signal, sig)
        return True

    def uninstall(self) -> None:
        """Put the original handlers back (a stop that did not come from a signal)."""
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return
        for sig, (callback, args) in self._originals.items():
            loop.add_signal_handler(sig, callback, *args)

    def _on_signal(self, sig: int) -> None:
        if self.task is not None:  # a second signal: stop now
            self._forward(sig)
            return
        self.task = asyncio.get_running_loop().create_task(self._run(sig), name="hub-close-on-signal")

    async def _run(self, sig: int) -> None:
        try:
            await self.before()
        except Exception:
            log.exception("closing WebSocket clients before the shutdown failed")
        finally:
            self._forward(sig)

    def _forward(self, sig: int) -> None:
        callback, args = self._originals[sig]
        callback(*args)
