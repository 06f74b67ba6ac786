"""The server's `send` for hub tests that need no socket: each event is recorded and its send
left in flight until the test releases it, so what a client holds can be read in order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Generator
from typing import Any

from cryptoviz.hub.client import Client
from cryptoviz.hub.messages import Event


class HeldSend:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._callbacks: list[Callable[[Any], None]] = []

    def __call__(self, event: Event) -> _InFlight:
        self.events.append(event)
        return _InFlight(self)

    def release(self) -> None:
        """Complete the send in flight (the client then starts its next one, held again)."""
        callbacks, self._callbacks = self._callbacks, []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        for callback in callbacks:
            callback(done)


class _InFlight:
    def __init__(self, owner: HeldSend) -> None:
        self.owner = owner

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self.owner._callbacks.append(callback)

    def __await__(self) -> Generator[Any, None, None]:
        """Awaited (the close frame): done at once."""
        return
        yield


def taken(client: Client) -> list[dict[str, Any]]:
    """Every document the client was given so far, in order (sent, then still buffered); cleared."""
    send = client.send
    assert isinstance(send, HeldSend)
    events = [e for e in send.events if e["type"] == "websocket.send"]
    events += [f.event for f in client.buf if f.event is not None]
    send.events.clear()
    client.buf.clear()
    return [json.loads(e["text"]) for e in events]
