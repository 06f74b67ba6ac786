"""One WebSocket connection of the hub's own listener, after the handshake: the reading side.

Client messages go to the hub as they complete; pings are answered at once; a protocol
fault closes the connection with its code (1009 past the message limit, as on the ASGI
path). While the client's send buffer is full, reading pauses, so a client cannot pile up
requests whose replies cannot go out. A close, from either side, ends with the peer's
close frame or the close timeout, whichever comes first.
"""

from __future__ import annotations

import asyncio
import logging
import time

from cryptoviz.hub.hub import Hub
from cryptoviz.hub.wire_client import HIGH_WATER, LOW_WATER, Flusher, WireClient
from cryptoviz.hub.wsframe import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    Reader,
    WsError,
    build,
    close_code,
    close_frame,
)

log = logging.getLogger(__name__)


class WsConnection(asyncio.Protocol):
    """Reads one client's frames into the hub; its WireClient does the writing."""

    __slots__ = ("client", "done", "flusher", "hub", "lost", "reader", "reading", "timer", "transport")

    def __init__(self, hub: Hub, flusher: Flusher) -> None:
        self.hub = hub
        self.flusher = flusher
        self.reader = Reader(hub.config.max_message_bytes)
        self.transport: asyncio.Transport | None = None
        self.client: WireClient | None = None
        self.reading = True
        self.done = False
        """The close handshake is over (or failed): nothing more is read."""
        self.lost = False
        self.timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        hub = self.hub
        self.client = client = hub.attach(self._client)  # type: ignore[assignment]
        if client is None:
            code, reason = (1001, "server shutting down") if hub.closing else (1013, "too many connections")
            transport.write(close_frame(code, reason))
            self.closing()

    def _client(self, client_id: int) -> WireClient:
        assert self.transport is not None
        cfg = self.hub.config
        return WireClient(client_id, self.transport, cfg.send_buffer, self.hub.encoder, self.flusher, self)

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client is not None:
            client.heard = time.monotonic()
        self.reader.feed(data)
        self._process()

    def eof_received(self) -> bool:
        return False  # a peer that stops sending without a close frame is gone

    def pause_writing(self) -> None:
        if self.client is not None:
            self.client.pause()

    def resume_writing(self) -> None:
        if self.client is not None:
            self.client.resume()

    def connection_lost(self, exc: Exception | None) -> None:
        self.done = self.lost = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        client = self.client
        if client is not None:
            client.gone()
            self.hub.disconnect(client)

    # -- Owner (wire_client.py) -------------------------------------------------------------

    def room(self) -> None:
        if not self.reading and self.transport is not None and not self.lost:
            self.reading = True
            self.transport.resume_reading()
            self._process()

    def closing(self) -> None:
        """Our close frame is out: give the peer the close timeout to answer with its own."""
        if self.timer is None and not self.lost:
            delay = self.hub.config.close_timeout_seconds
            self.timer = asyncio.get_running_loop().call_later(delay, self._give_up)
        self.room()  # the peer's close frame must be read even if the buffer was full

    def _give_up(self) -> None:
        self.timer = None
        if self.transport is not None:
            self.transport.abort()

    # -- frames -----------------------------------------------------------------------------

    def _process(self) -> None:
        reader, hub, client = self.reader, self.hub, self.client
        while not self.done:
            if client is not None and not client.close_code and len(client.buf) >= client.cap:
                self._pause()  # the replies cannot go out: no further request until they can
                return
            try:
                frame = reader.next()
            except WsError as exc:
                self._fail(exc)
                return
            if frame is None:
                return
            opcode, payload = frame
            if opcode in (TEXT, BINARY):
                if client is not None:
                    hub.receive(client, payload)
            elif opcode == PING:
                if not self._close_sent():
                    self._write(build(PONG, payload))
            elif opcode == CLOSE:
                self._peer_closed(payload)
                return
            elif opcode != PONG:  # pragma: no cover - the reader returns no other opcode
                raise AssertionError(opcode)

    def _pause(self) -> None:
        if self.reading and self.transport is not None:
            self.reading = False
            self.transport.pause_reading()

    def _close_sent(self) -> bool:
        client = self.client
        return client is None or bool(client.close_code)

    def _fail(self, exc: WsError) -> None:
        """A protocol fault fails the connection (RFC 6455 7.1.7): the close frame, then the end."""
        log.debug("WebSocket client: %s (%d)", exc.reason, exc.code)
        self.done = True
        client = self.client
        if client is not None and not client.close_code:
            self.hub.close(client, exc.code, exc.reason)
        if self.transport is not None:
            self.transport.close()

    def _peer_closed(self, payload: bytes) -> None:
        """The peer's close frame: answer it if we had not closed first, then end the TCP side."""
        self.done = True
        client = self.client
        if client is not None and not client.close_code:
            try:
                code = close_code(payload)
            except WsError as exc:
                code = exc.code
            self.hub.close(client, code, "")
        if self.transport is not None:
            self.transport.close()  # after what it still holds, the close frame included

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
