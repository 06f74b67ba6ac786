"""A hub client on an asyncio transport: the same buffer policy, written in batches.

Frames arrive already built (`Frame.wire`, one bytes object shared by every recipient).
A client given frames during a loop turn is flushed once, at the end of that turn, by the
`Flusher`: everything waiting goes out in one `transport.write` per 64 KiB, so a burst of
fifty messages costs one system call, not fifty. The transport's buffer is bounded: once
past its high-water mark (`pause_writing`), frames wait in the hub's own buffer of
`send_buffer` messages, where candles coalesce and trades drop, as on the ASGI path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final, Protocol, cast

from cryptoviz.hub.client import LAG_MARK, Client
from cryptoviz.hub.messages import Encoder, Event, Frame
from cryptoviz.hub.wsframe import PING, build, close_frame

WRITE_CHUNK: Final = 64 * 1024
"""Bytes joined into one write at most."""
HIGH_WATER: Final = 64 * 1024
LOW_WATER: Final = 16 * 1024
"""Bounds of the transport's buffer: past HIGH_WATER, no more frames are handed to it."""
PING_FRAME: Final = build(PING, b"")
log = logging.getLogger(__name__)


class Owner(Protocol):
    """The connection a WireClient writes for (connection.py)."""

    def room(self) -> None:
        """The buffer went below its limit: reading may resume."""

    def closing(self) -> None:
        """The close frame went out: wait for the peer's, at most the close timeout."""


async def _no_send(event: Event) -> None:
    raise RuntimeError("a WireClient writes to its transport, never through an ASGI send")


class Flusher:
    """Flushes every client given frames during a loop turn, once, when the turn ends."""

    __slots__ = ("dirty", "loop", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.dirty: list[WireClient] = []
        self.scheduled = False

    def add(self, client: WireClient) -> None:
        self.dirty.append(client)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.run)

    def run(self) -> None:
        self.scheduled = False
        dirty, self.dirty = self.dirty, []
        for client in dirty:
            client.queued = False
            try:
                client.flush()
            except Exception:  # one broken connection must not stall the others
                log.exception("WebSocket client %d: write failed; dropping it", client.id)
                client.abort()


class WireClient(Client):
    """Buffer and subscriptions of one connection of the hub's own listener."""

    __slots__ = ("flusher", "heard", "owner", "paused", "pinged_at", "queued", "transport")

    def __init__(
        self,
        client_id: int,
        transport: asyncio.WriteTransport,
        cap: int,
        encoder: Encoder,
        flusher: Flusher,
        owner: Owner,
    ) -> None:
        super().__init__(client_id, _no_send, cap, encoder)
        self.transport = transport
        self.flusher = flusher
        self.owner = owner
        self.queued = False
        """Listed in the flusher for this loop turn."""
        self.paused = False
        """The transport's buffer is past its high-water mark."""
        self.heard = self.pinged_at = time.monotonic()
        """When the peer last sent anything (a pong counts), and when it was last pinged."""

    def push(self, frame: Frame) -> None:
        """Queue a data frame (already built); the buffer policy applies when full."""
        buf = self.buf
        if len(buf) < self.cap:
            buf.append(frame)
            if not self.queued:
                self.queued = True
                self.flusher.add(self)
        elif not self.close_code:
            self._overflow(frame)

    def push_many(self, frames: list[Frame]) -> None:
        """Consecutive data frames: one `extend` when they all fit, else one `push` each."""
        buf = self.buf
        if len(buf) + len(frames) <= self.cap:
            buf.extend(frames)
            if not self.queued:
                self.queued = True
                self.flusher.add(self)
        else:
            for frame in frames:
                self.push(frame)

    def _kick(self) -> None:
        if not self.queued:
            self.queued = True
            self.flusher.add(self)

    def flush(self) -> None:
        """Write what waits, in chunks of WRITE_CHUNK bytes, until done or the transport is full."""
        buf = self.buf
        if self.paused or self.broken or not buf:
            return
        wires = [frame.wire for frame in buf]
        ready = cast("list[bytes]", wires)  # once None is ruled out below
        if None not in wires and sum(map(len, ready)) <= WRITE_CHUNK:  # the usual case: one write
            self.sent += len(ready)
            buf.clear()
            self.transport.write(ready[0] if len(ready) == 1 else b"".join(ready))
        else:
            self._flush_chunks()
        if not buf:
            self.full_since = None
        if len(buf) < self.cap:
            self.owner.room()

    def _flush_chunks(self) -> None:
        buf, encoder, write = self.buf, self.encoder, self.transport.write
        while buf and not self.paused:
            chunk: list[bytes] = []
            size = 0
            while buf and size < WRITE_CHUNK:
                frame = buf.popleft()
                wire = frame.wire
                if wire is None:
                    wire = encoder.wire(self._lag_frame() if frame is LAG_MARK else frame)
                chunk.append(wire)
                size += len(wire)
            self.sent += len(chunk)
            write(chunk[0] if len(chunk) == 1 else b"".join(chunk))

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        if self.buf:
            self._kick()

    def ping(self) -> None:
        """A ping frame, ahead of whatever waits in the buffer."""
        if not self.broken and not self.close_code:
            self.transport.write(PING_FRAME)

    def alive(self, now: float, interval: float, timeout: float) -> bool:
        """Ping a peer heard from `interval` ago; False once it has been silent `timeout` long."""
        silent = now - self.heard
        if silent >= timeout:
            return False
        if silent >= interval and now - self.pinged_at >= interval:
            self.pinged_at = now
            self.ping()
        return True

    def busy(self) -> bool:
        return self.paused or bool(self.buf)

    async def wait_room(self) -> None:
        raise RuntimeError("the connection pauses reading instead (see connection.py)")

    def close(self, code: int, reason: str) -> None:
        """Stop deliveries, send the close frame now (after what the transport holds)."""
        if self.close_code:
            return
        self.close_code = code
        self.close_reason = reason
        self.buf.clear()
        self.closer = asyncio.get_running_loop().create_future()
        if self.broken:
            self.closer.set_result(None)
            return
        self.transport.write(close_frame(code, reason))
        self.owner.closing()

    def gone(self) -> None:
        """The connection is lost: nothing more is written, and the close is over."""
        self.broken = True
        self.buf.clear()
        closer = self.closer
        if closer is None:
            self.closer = closer = asyncio.get_running_loop().create_future()
        if not closer.done():
            closer.set_result(None)

    def abort(self) -> None:
        self.broken = True
        self.transport.abort()
