"""The front listener on the contract port: `/ws/crypto` upgrades to the hub, the rest relayed.

It reads each connection's first request head (at most 16 KiB, within 10 s). A WebSocket
upgrade on the hub's path is answered here and the connection handed to a `WsConnection`,
so hub frames go from a prebuilt bytes object to the socket with no server in between.
Anything else, malformed requests included, is relayed byte for byte to the application
server (granian) on its private address, for the life of the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from cryptoviz.hub.connection import WsConnection
from cryptoviz.hub.handshake import (
    HandshakeError,
    accept,
    headers_of,
    is_upgrade,
    refusal,
    request_line,
    wants_hub,
)
from cryptoviz.hub.hub import Hub
from cryptoviz.hub.relay import Pipe, link
from cryptoviz.hub.wire_client import Flusher

log = logging.getLogger(__name__)
HEAD_LIMIT: Final = 16 * 1024
HEAD_TIMEOUT: Final = 10.0
STOP_GRACE: Final = 2.0
LINGER: Final = 2.0
"""Seconds a refused connection is still read (and discarded) so the refusal is not lost to a reset."""
"""Seconds relayed connections get to finish what they hold when the listener stops."""


class Front:
    """The listener, and every connection it holds that the hub does not."""

    def __init__(self, hub: Hub, upstream: str) -> None:
        self.hub = hub
        self.upstream = upstream
        """The application server: a unix socket path (starting with /) or host:port."""
        self.server: asyncio.Server | None = None
        self.flusher: Flusher | None = None
        self.heads: set[FrontProtocol] = set()
        self.pipes: set[Pipe] = set()
        self.connecting: set[asyncio.Task[None]] = set()
        self.drained: asyncio.Event | None = None
        """Set once the last relayed connection is gone, while stopping."""

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.flusher = Flusher(loop)
        self.hub.wire = True
        try:
            self.server = await loop.create_server(lambda: FrontProtocol(self), host, port, backlog=1024)
        except OSError as exc:
            log.error("cannot listen on %s:%d (server.host, server.port): %s", host, port, exc.strerror)
            raise

    def stop_accepting(self) -> None:
        if self.server is not None:
            self.server.close()

    async def stop(self) -> None:
        """Stop listening; relayed connections get STOP_GRACE seconds to drain, then are cut."""
        self.stop_accepting()
        for head in list(self.heads):
            head.abort()
        for task in list(self.connecting):
            task.cancel()
        if self.connecting:
            await asyncio.wait(list(self.connecting))
        self.drained = asyncio.Event()
        for pipe in list(self.pipes):
            pipe.close()
        if self.pipes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drained.wait(), STOP_GRACE)
        for pipe in list(self.pipes):
            pipe.abort()
        if self.server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), STOP_GRACE)

    def gone(self, pipe: Pipe) -> None:
        self.pipes.discard(pipe)
        if not self.pipes and self.drained is not None:
            self.drained.set()

    def relay(self, pipe: Pipe) -> None:
        """Connect `pipe` (the client side, paused) to the application server."""
        self.pipes.add(pipe)
        task = asyncio.get_running_loop().create_task(self._connect(pipe), name="front-connect")
        self.connecting.add(task)
        task.add_done_callback(self.connecting.discard)

    async def _connect(self, pipe: Pipe) -> None:
        loop = asyncio.get_running_loop()
        upstream = Pipe(self.gone)
        try:
            if self.upstream.startswith("/"):
                await loop.create_unix_connection(lambda: upstream, self.upstream)
            else:
                host, _, port = self.upstream.rpartition(":")
                await loop.create_connection(lambda: upstream, host, int(port))
        except OSError as exc:
            log.warning("front: the application server at %s is not reachable: %s", self.upstream, exc)
            if pipe.transport is not None and not pipe.lost:
                pipe.transport.write(refusal(HandshakeError(502, "the application server is not reachable")))
            pipe.close()
            return
        if pipe.lost:
            upstream.close()
            return
        self.pipes.add(upstream)
        link(pipe, upstream)


class FrontProtocol(asyncio.Protocol):
    """A new connection until its first request head is read and routed."""

    __slots__ = ("front", "head", "refused", "timer", "transport")

    def __init__(self, front: Front) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.timer: asyncio.TimerHandle | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.front.heads.add(self)
        self.timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT, self._timeout)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        head = self.head
        head += data
        end = head.find(b"\r\n\r\n", max(0, len(head) - len(data) - 3))
        if end < 0 or end + 4 > HEAD_LIMIT:
            if len(head) > HEAD_LIMIT:
                self._refuse(HandshakeError(431, f"request head larger than {HEAD_LIMIT} bytes"))
            return
        self._routed()
        raw = bytes(head[: end + 4])
        try:
            line = request_line(raw)
        except HandshakeError:
            line = None  # the application server answers malformed requests
        if line is not None and wants_hub(line):
            try:
                headers = headers_of(raw)
                if is_upgrade(line, headers):
                    self._upgrade(accept(line, headers), bytes(head[end + 4 :]))
                    return
            except HandshakeError as exc:
                self._refuse(exc)
                return
        self._pass()

    def connection_lost(self, exc: Exception | None) -> None:
        self._routed()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _routed(self) -> None:
        self.front.heads.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _upgrade(self, response: bytes, rest: bytes) -> None:
        transport, front = self.transport, self.front
        assert transport is not None
        assert front.flusher is not None
        transport.write(response)
        connection = WsConnection(front.hub, front.flusher)
        transport.set_protocol(connection)
        connection.connection_made(transport)
        if rest:
            connection.data_received(rest)

    def _pass(self) -> None:
        transport = self.transport
        assert transport is not None
        transport.pause_reading()
        pipe = Pipe(self.front.gone)
        pipe.connection_made(transport)
        pipe.held += self.head
        transport.set_protocol(pipe)
        self.front.relay(pipe)

    def _refuse(self, error: HandshakeError) -> None:
        """Answer, end our side, and read what the client still sends for LINGER seconds: closing
        with unread bytes would reset the connection, and the client could lose the answer."""
        self._routed()
        self.refused = True
        self.head.clear()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.front.heads.add(self)  # aborted if the listener stops meanwhile
        transport.write(refusal(error))
        if transport.can_write_eof():
            transport.write_eof()
        self.timer = asyncio.get_running_loop().call_later(LINGER, transport.close)

    def _timeout(self) -> None:
        self.timer = None
        self._refuse(HandshakeError(408, f"no complete request head within {HEAD_TIMEOUT:g}s"))
