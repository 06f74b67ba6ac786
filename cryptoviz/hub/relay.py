"""Byte-for-byte relay between a client and the application server, with flow control.

Each side is a `Pipe`: what it reads is written to the other side's transport, and when
that transport's buffer passes its high-water mark, this side stops reading until it
drains. So a slow reader at either end holds at most one transport buffer in memory.
An end of input is passed on (half-close); the first side to go closes the other, once
what it still holds has been written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Pipe(asyncio.Protocol):
    """One side of a relayed connection."""

    __slots__ = ("eof", "held", "lost", "on_gone", "peer", "transport")

    def __init__(self, on_gone: Callable[[Pipe], None] | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: Pipe | None = None
        self.held = bytearray()
        """Read before the other side was connected (the request head, at most)."""
        self.eof = False
        self.lost = False
        self.on_gone = on_gone

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None or peer.transport is None:
            self.held += data
        elif not peer.lost:
            peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None:
            return True  # passed on once the other side is connected (see `link`)
        if peer.lost:
            return False
        if peer.eof:  # both directions are done
            peer.transport.close()
            return False
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        return True

    def pause_writing(self) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.lost:
            peer.transport.pause_reading()

    def resume_writing(self) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.lost:
            peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.lost:
            peer.transport.close()
        if self.on_gone is not None:
            self.on_gone(self)

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.abort()


def link(client: Pipe, upstream: Pipe) -> None:
    """Join two connected pipes and send on what the client side held."""
    assert client.transport is not None
    assert upstream.transport is not None
    client.peer, upstream.peer = upstream, client
    if client.held:
        upstream.transport.write(bytes(client.held))
        client.held.clear()
    if client.eof and upstream.transport.can_write_eof():
        upstream.transport.write_eof()
    client.transport.resume_reading()
