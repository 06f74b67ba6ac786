"""One connection's outgoing side: a bounded buffer and the sends that drain it, in order.

The fan-out only appends to buffers and never awaits a client, so a slow client delays
nobody. Each client has at most one send in flight: when the server reports it done, a
callback starts the next one, so a delivery costs one server send and one callback, with
no task to wake and resume. When a buffer is full, older updates of the same candle are coalesced into the
newest, then the oldest trades are dropped down to three quarters of the limit (so the
work is paid once per quarter buffer, not per message), and the client is sent a `lagged`
notice counting what it lost. Control replies never count against the limit: the
connection reads no further request while its buffer is full, so they stay few.

This class sends through an ASGI server's `send`; `WireClient` (wire_client.py) keeps the
same buffer policy and writes to an asyncio transport instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from cryptoviz.hub.messages import CANDLE, LAG, TRADE, Encoder, Event, Frame
from cryptoviz.hub.protocol import SubKey

log = logging.getLogger(__name__)
Send = Callable[[Event], Awaitable[None]]
LAG_MARK = Frame(LAG, None)
"""Where the `lagged` notice goes in a buffer; its text is made when it is sent."""


class Client:
    """Buffer, subscriptions and counters of one WebSocket connection."""

    __slots__ = (
        "broken", "buf", "cap", "close_code", "close_reason", "closer", "coalesced", "dropped",
        "dropped_trades", "encoder", "full_since", "id", "idle", "inflight", "lag", "last_receive",
        "low", "mark_at", "mark_sent", "on_sent", "pending", "ping_at", "ping_mark", "reader", "room",
        "send", "sent", "subs",
    )  # fmt: skip

    def __init__(self, client_id: int, send: Send, cap: int, encoder: Encoder) -> None:
        self.id = client_id
        self.send = send
        self.cap = cap
        self.low = cap - max(1, cap // 4)
        self.encoder = encoder
        self.buf: deque[Frame] = deque()
        self.subs: set[SubKey] = set()
        self.inflight = False
        self.pending: Any = None
        """The send in flight, for `abort`."""
        self.broken = False
        self.on_sent = self._sent
        """Bound once: the completion callback of every send."""
        self.room: asyncio.Future[None] | None = None
        """Set by the reader while the buffer is full; resolved once a send makes room."""
        self.idle: asyncio.Future[None] | None = None
        """Set by the closer while a send is in flight; resolved when it completes."""
        self.reader: asyncio.Task[bool] | None = None
        self.closer: asyncio.Future[None] | None = None
        """Done once the close frame went out (or the connection is gone)."""
        self.sent = 0
        self.close_code = 0
        self.close_reason = ""
        self.full_since: float | None = None
        self.lag = [0, 0, 0]
        """Lost since the last `lagged` notice: dropped trades, coalesced candles, other drops."""
        self.dropped_trades = 0
        self.coalesced = 0
        self.dropped = 0
        now = time.monotonic()
        self.last_receive = now
        self.mark_sent = 0
        self.mark_at = now
        """Stuck detection: `sent` as last seen by the upkeep, and when it last moved."""
        self.ping_mark = 0
        self.ping_at = now
        """Heartbeat: the same, for the `ping` sent to a client nothing else was sent to."""

    def push(self, frame: Frame) -> None:
        """Queue a data frame (already encoded); the buffer policy applies when full."""
        buf = self.buf
        if len(buf) < self.cap:
            buf.append(frame)
            if not self.inflight:
                self._send_next()
        elif not self.close_code:
            self._overflow(frame)

    def push_many(self, frames: list[Frame]) -> None:
        """`push` each of consecutive data frames, in order."""
        for frame in frames:
            self.push(frame)

    def push_control(self, frame: Frame) -> None:
        """Queue a reply, a snapshot or a resumed message: never dropped."""
        if self.close_code:
            return
        self.buf.append(frame)
        self._kick()

    def _overflow(self, frame: Frame) -> None:
        if self.full_since is None:
            self.full_since = time.monotonic()
        self._compact(frame)
        if len(self.buf) < self.cap:
            self.buf.append(frame)
        else:  # nothing left that may go: the newcomer is lost
            self._lost(0 if frame.kind == TRADE else 2, 1)
        if any(self.lag):  # compaction took the previous notice out: it goes first again
            self.buf.appendleft(LAG_MARK)
        self._kick()

    def _kick(self) -> None:
        """Frames were queued: make sure they will go out."""
        if not self.inflight:
            self._send_next()

    def _lost(self, what: int, n: int) -> None:
        self.lag[what] += n
        if what == 0:
            self.dropped_trades += n
        elif what == 1:
            self.coalesced += n
        else:
            self.dropped += n

    def _compact(self, incoming: Frame) -> None:
        """Coalesce superseded candle updates, then drop the oldest trades down to `low`."""
        buf = self.buf
        seen: set[Any] = {incoming.key} if incoming.kind == CANDLE else set()
        newest_first: list[Frame] = []
        coalesced = 0
        for frame in reversed(buf):
            if frame.kind == CANDLE:
                if frame.key in seen:
                    coalesced += 1
                    continue
                seen.add(frame.key)
            elif frame is LAG_MARK:
                continue
            newest_first.append(frame)
        kept = newest_first[::-1]
        excess = len(kept) + 1 - self.low
        dropped = 0
        if excess > 0:
            trimmed: list[Frame] = []
            for frame in kept:
                if dropped < excess and frame.kind == TRADE:
                    dropped += 1
                    continue
                trimmed.append(frame)
            kept = trimmed
        buf.clear()
        buf.extend(kept)
        if coalesced:
            self._lost(1, coalesced)
        if dropped:
            self._lost(0, dropped)

    def _send_next(self) -> None:
        """Start sending the next frame; only called with nothing in flight."""
        frame = self.buf.popleft()
        event = frame.event
        if event is None:
            event = self._lag_event() if frame is LAG_MARK else self.encoder.encode(frame)
        self.inflight = True
        try:
            pending: Any = self.send(event)
            try:
                add_callback = pending.add_done_callback  # granian's own awaitable
            except AttributeError:  # any other awaitable (another server, a wrapped send)
                pending = asyncio.ensure_future(pending)
                add_callback = pending.add_done_callback
            self.pending = pending
            add_callback(self.on_sent)
        except Exception as exc:  # the connection is gone; the reader will see it
            self._broken(exc)

    def _sent(self, done: Any) -> None:
        """The server finished a send: count it, then start the next one."""
        self.inflight = False
        try:
            done.result()
        except BaseException as exc:
            self._broken(exc)
            return
        self.sent += 1
        if self.room is not None:
            self._free_room()
        if self.close_code:
            idle = self.idle
            if idle is not None and not idle.done():
                idle.set_result(None)
        elif self.buf:
            self._send_next()
        else:
            self.full_since = None

    def _broken(self, exc: BaseException) -> None:
        log.debug("WebSocket client %d: send failed: %r", self.id, exc)
        self.broken = self.inflight = True  # nothing more goes out; the reader sees the end
        self.buf.clear()
        idle = self.idle
        if idle is not None and not idle.done():
            idle.set_result(None)

    def close(self, code: int, reason: str) -> None:
        """Stop deliveries; the close frame follows the send in progress (see `_close`).

        The reader is cancelled first: granian cannot send a close frame while a `receive`
        is pending on the same connection.
        """
        if self.close_code:
            return
        self.close_code = code
        self.close_reason = reason
        self.buf.clear()
        reader = self.reader
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        self._free_room()
        self.closer = asyncio.get_running_loop().create_task(self._close(), name=f"hub-close-{self.id}")

    async def _close(self) -> None:
        if self.reader is not None:
            await asyncio.wait([self.reader])
        if self.inflight and not self.broken:
            self.idle = asyncio.get_running_loop().create_future()
            await self.idle
        if not self.broken:
            await self.send({"type": "websocket.close", "code": self.close_code, "reason": self.close_reason})

    def abort(self) -> None:
        """Give up the send in flight (the connection is being dropped).

        A send the server never completes would otherwise outlive the connection, and
        granian cannot drop such a send cleanly when it stops.
        """
        pending, self.pending = self.pending, None
        self.broken = True
        if pending is not None and self.inflight:
            pending.cancel()

    def alive(self, now: float, interval: float, timeout: float) -> bool:
        """Liveness beyond what the hub sees: the ASGI server keeps its own, so always True."""
        return True

    def busy(self) -> bool:
        """A send is in flight or frames wait: the client should be making progress."""
        return self.inflight or bool(self.buf)

    def _free_room(self) -> None:
        room = self.room
        if room is not None and len(self.buf) < self.cap:
            self.room = None
            if not room.done():
                room.set_result(None)

    async def wait_room(self) -> None:
        """Until the buffer is below its limit (or the client closes)."""
        while len(self.buf) >= self.cap and not self.close_code:
            room = self.room = asyncio.get_running_loop().create_future()
            await room

    def _lag_event(self) -> Event:
        event = self._lag_frame().event
        assert event is not None
        return event

    def _lag_frame(self) -> Frame:
        """The `lagged` notice for what was lost since the last one."""
        trades, candles, other = self.lag
        self.lag = [0, 0, 0]
        data = {"dropped_trades": trades, "coalesced_candles": candles, "dropped_messages": other}
        return self.encoder.control("lagged", data)
