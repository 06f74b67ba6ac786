"""The hub: who is subscribed to what, numbered streams with a bounded history, the fan-out.

Everything here is synchronous and runs on the event loop: a published message is
numbered, kept in its stream's history and appended to its recipients' buffers, with no
await in between, so a subscribe's snapshot or resume can never interleave with a live
message. Each client's own send chain does the sending (see `client.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from itertools import groupby
from operator import attrgetter
from typing import Any

from cryptoviz.config import HubConfig
from cryptoviz.hub.client import Client, Send
from cryptoviz.hub.messages import CANDLE, INDICATOR, NEWS, TRADE, Encoder, Frame, ResetData, SubData
from cryptoviz.hub.protocol import WILDCARD, Command, ProtocolError, SubKey, parse
from cryptoviz.hub.stats import HubStats
from cryptoviz.models import Candle, IndicatorPoint, NewsItem, Trade

log = logging.getLogger(__name__)
NEWS_STREAM = SubKey("news", WILDCARD, None)


class Stream:
    """One numbered sequence of messages: a symbol's trades, a (symbol, timeframe)'s candles or
    indicators, or the news."""

    __slots__ = ("history", "latest", "seq")

    def __init__(self, history: int) -> None:
        self.seq = 0
        self.history: deque[Frame] = deque(maxlen=history)
        self.latest: Frame | None = None


class Hub:
    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.encoder = Encoder()
        self.clients: dict[int, Client] = {}
        self.subs: dict[SubKey, dict[Client, None]] = {}
        self.streams: dict[SubKey, Stream] = {}
        self.stats = HubStats()
        self.closing = False
        self.wire = False
        """Most clients come through the hub's own listener: encode new frames as wire frames first."""
        self._next_id = 0

    # -- connections ---------------------------------------------------------------------

    def connect(self, send: Send) -> Client | None:
        """A new client of an ASGI server, or None when the hub is full or shutting down."""
        return self.attach(lambda client_id: Client(client_id, send, self.config.send_buffer, self.encoder))

    def attach(self, make: Callable[[int], Client]) -> Client | None:
        """A new client made by `make(id)`, or None when the hub is full or shutting down."""
        if self.closing or len(self.clients) >= self.config.max_connections:
            self.stats.rejected += 1
            return None
        self._next_id += 1
        client = make(self._next_id)
        self.clients[client.id] = client
        self.stats.total_connections += 1
        return client

    def disconnect(self, client: Client) -> None:
        """Forget the client (gone, or closed earlier); its counters go into the totals."""
        if self.clients.pop(client.id, None) is not None:
            self._unsubscribe_all(client)
            self.stats.retire(client)

    def _unsubscribe_all(self, client: Client) -> None:
        for key in client.subs:
            subscribers = self.subs.get(key)
            if subscribers is not None:
                subscribers.pop(client, None)
                if not subscribers:
                    del self.subs[key]
        client.subs.clear()

    def close(self, client: Client, code: int, reason: str) -> None:
        """Stop all deliveries to the client now; the close frame follows its send in flight.

        The client no longer counts as active, even while a stuck peer keeps its socket.
        """
        client.close(code, reason)
        self.disconnect(client)

    def slow_close(self, client: Client, reason: str) -> None:
        """Close a client that cannot keep up (1008)."""
        self.stats.slow_closed += 1
        log.info("closing slow WebSocket client %d: %s", client.id, reason)
        self.close(client, 1008, reason)

    # -- client requests -----------------------------------------------------------------

    def receive(self, client: Client, raw: str | bytes) -> None:
        """Handle one client message: a reply, or an error, always; never an exception."""
        if client.close_code:
            return
        client.last_receive = time.monotonic()
        try:
            self._handle(client, parse(raw))
        except ProtocolError as exc:
            client.push_control(self.encoder.error(exc.code, exc.message))
        except Exception:
            log.exception("WebSocket request failed: %r", raw[:200])
            client.push_control(self.encoder.error("internal_error", "the request failed; it was logged"))

    def _handle(self, client: Client, command: Command) -> None:
        if command.action == "ping":
            client.push_control(self.encoder.control("pong", None))
        elif command.action == "list_subscriptions":
            subs = [SubData(*k) for k in sorted(client.subs, key=_order)]
            client.push_control(self.encoder.control("subscriptions", subs))
        elif command.key is not None and command.action == "subscribe":
            self._subscribe(client, command.key, command.since_seq)
        elif command.key is not None:
            self._unsubscribe(client, command.key)

    def _subscribe(self, client: Client, key: SubKey, since_seq: int | None) -> None:
        if key not in client.subs:
            if len(client.subs) >= self.config.max_subscriptions:
                raise ProtocolError(
                    "too_many_subscriptions",
                    f"this connection already holds {len(client.subs)} subscriptions, the most allowed",
                )
            client.subs.add(key)
            self.subs.setdefault(key, {})[client] = None
        client.push_control(self.encoder.subscription("subscribed", key))
        if since_seq is not None:
            self._resume(client, key, since_seq)
        elif key.type == "candles":
            self._snapshot(client, key)

    def _unsubscribe(self, client: Client, key: SubKey) -> None:
        if key not in client.subs:
            raise ProtocolError(
                "not_subscribed", f"no subscription to {key.type} {key.symbol} {key.timeframe or ''}"
            )
        client.subs.discard(key)
        subscribers = self.subs.get(key)
        if subscribers is not None:
            subscribers.pop(client, None)
            if not subscribers:
                del self.subs[key]
        client.push_control(self.encoder.subscription("unsubscribed", key))

    def _snapshot(self, client: Client, key: SubKey) -> None:
        """The current candle of each symbol the subscription covers, at once."""
        if key.symbol != WILDCARD:
            stream = self.streams.get(key)
            latest = [stream.latest] if stream is not None and stream.latest is not None else []
        else:
            latest = [
                s.latest
                for k, s in self.streams.items()
                if k.type == "candles" and k.timeframe == key.timeframe and s.latest is not None
            ]
        for frame in latest:
            self._prepare(frame)
            client.push_control(frame)

    def _resume(self, client: Client, key: SubKey, since_seq: int) -> None:
        """What the client missed after `since_seq`, or a `reset` when the history is short of it."""
        stream_key = NEWS_STREAM if key.type == "news" else key
        stream = self.streams.get(stream_key)
        last = stream.seq if stream is not None else 0
        held: Iterable[Frame] = stream.history if stream is not None else ()
        oldest = stream.history[0].seq if stream is not None and stream.history else None
        if since_seq == last:
            return
        if since_seq > last or oldest is None or since_seq < oldest - 1:
            data = ResetData(key.type, key.symbol, key.timeframe, oldest, last)
            client.push_control(self.encoder.control("reset", data))
            if key.type == "candles":
                self._snapshot(client, key)
            return
        symbol = key.symbol
        for frame in held:
            if frame.seq > since_seq and (key.type != "news" or symbol == WILDCARD or symbol in frame.key):
                self._prepare(frame)
                client.push_control(frame)

    # -- publishing ----------------------------------------------------------------------

    def _stream(self, key: SubKey) -> Stream:
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = Stream(self.config.history)
        return stream

    def _prepare(self, frame: Frame) -> None:
        """Encode the frame the way most clients take it; the others complete it when sending."""
        if self.wire:
            self.encoder.wire(frame)
        else:
            self.encoder.encode(frame)

    def _fanout(self, key: SubKey, wild: SubKey, frame: Frame) -> None:
        """Append the frame to every subscriber of its stream or of the wildcard, once each."""
        exact = self.subs.get(key)
        others = self.subs.get(wild)
        if not exact and not others:
            return
        self._prepare(frame)
        if exact:
            for client in exact:
                client.push(frame)
        if others:
            if exact:
                for client in others:
                    if client not in exact:
                        client.push(frame)
            else:
                for client in others:
                    client.push(frame)
        self.stats.broadcast += 1
        self.stats.last_broadcast_time = frame.ts

    def _fanout_run(self, key: SubKey, wild: SubKey, frames: list[Frame]) -> None:
        """`_fanout` for consecutive frames of one stream: one `push_many` per recipient."""
        exact = self.subs.get(key)
        others = self.subs.get(wild)
        if not exact and not others:
            return
        for frame in frames:
            self._prepare(frame)
        if exact:
            for client in exact:
                client.push_many(frames)
        if others:
            for client in others:
                if not exact or client not in exact:
                    client.push_many(frames)
        self.stats.broadcast += len(frames)
        self.stats.last_broadcast_time = frames[-1].ts

    def publish_trades(self, trades: Iterable[Trade]) -> None:
        """Consecutive trades of one symbol are numbered, kept, then fanned out together."""
        wild = SubKey("trades", WILDCARD, None)
        for symbol, run in groupby(trades, key=attrgetter("symbol")):
            key = SubKey("trades", symbol, None)
            stream = self._stream(key)
            frames: list[Frame] = []
            for trade in run:
                stream.seq += 1
                frame = Frame(TRADE, trade, stream.seq)
                stream.history.append(frame)
                frames.append(frame)
            self._fanout_run(key, wild, frames)

    def publish_candles(self, candles: Iterable[Candle]) -> None:
        for candle in candles:
            key = SubKey("candles", candle.symbol, candle.interval)
            stream = self._stream(key)
            stream.seq += 1
            frame = Frame(CANDLE, candle, stream.seq, (candle.symbol, candle.interval, candle.open_time))
            stream.history.append(frame)
            stream.latest = frame
            self._fanout(key, SubKey("candles", WILDCARD, candle.interval), frame)

    def publish_indicators(self, points: Iterable[IndicatorPoint]) -> None:
        for point in points:
            key = SubKey("indicators", point.symbol, point.interval)
            stream = self._stream(key)
            stream.seq += 1
            frame = Frame(INDICATOR, point, stream.seq)
            stream.history.append(frame)
            self._fanout(key, SubKey("indicators", WILDCARD, point.interval), frame)

    def publish_news(self, items: Iterable[NewsItem]) -> None:
        stream = self._stream(NEWS_STREAM)
        for item in items:
            stream.seq += 1
            frame = Frame(NEWS, item, stream.seq, frozenset(item.symbols))
            stream.history.append(frame)
            recipients: dict[Client, None] = dict(self.subs.get(NEWS_STREAM, {}))
            for symbol in item.symbols:
                recipients.update(self.subs.get(SubKey("news", symbol, None), {}))
            if recipients:
                self._prepare(frame)
                for client in recipients:
                    client.push(frame)
                self.stats.broadcast += 1
                self.stats.last_broadcast_time = frame.ts

    # -- upkeep --------------------------------------------------------------------------

    def tick(self) -> None:
        """Close clients stuck or full past the write timeout, ping idle ones, time out silent ones."""
        now = time.monotonic()
        cfg = self.config
        ping: Frame | None = None
        for client in list(self.clients.values()):
            if client.close_code:
                continue
            if client.sent != client.mark_sent or not client.busy():
                client.mark_sent = client.sent
                client.mark_at = now
            elif now - client.mark_at > cfg.write_timeout_seconds:
                self.slow_close(client, f"nothing taken for {cfg.write_timeout_seconds:g}s")
                continue
            if client.full_since is not None:
                if len(client.buf) <= client.cap // 2:
                    client.full_since = None
                elif now - client.full_since > cfg.write_timeout_seconds:
                    self.slow_close(client, f"send buffer full for {cfg.write_timeout_seconds:g}s")
                    continue
            if not client.subs and now - client.last_receive > cfg.read_timeout_seconds:
                self.stats.read_timeouts += 1
                self.close(client, 1008, f"no subscription and no message for {cfg.read_timeout_seconds:g}s")
                continue
            if not client.alive(now, cfg.ping_interval_seconds, cfg.read_timeout_seconds):
                self.stats.read_timeouts += 1
                self.close(client, 1008, f"no answer to pings for {cfg.read_timeout_seconds:g}s")
                continue
            if client.sent != client.ping_mark:
                client.ping_mark = client.sent
                client.ping_at = now
            elif now - client.ping_at >= cfg.ping_interval_seconds:
                ping = ping or self.encoder.control("ping", None)
                client.push_control(ping)
                client.ping_at = now

    async def run_upkeep(self) -> None:
        cfg = self.config
        period = min(
            1.0, cfg.write_timeout_seconds / 4, cfg.ping_interval_seconds / 2, cfg.read_timeout_seconds / 4
        )
        while True:
            await asyncio.sleep(period)
            self.tick()

    async def close_all(self, code: int, reason: str, grace: float) -> None:
        """Close every client (1001 on shutdown) and wait, at most `grace` seconds, for the frames."""
        self.closing = True
        closing = list(self.clients.values())
        for client in closing:
            self.close(client, code, reason)
        closers = [c.closer for c in closing if c.closer is not None]
        if closers:
            await asyncio.wait(closers, timeout=grace)
        for client in closing:  # stuck ones: nothing of theirs may outlive the server
            if client.closer is not None and not client.closer.done():
                client.closer.cancel()
                client.abort()

    def snapshot_stats(self) -> dict[str, Any]:
        return self.stats.snapshot(self.clients.values())

    def buffered(self) -> int:
        """Messages waiting in every client's send buffer."""
        return sum(len(client.buf) for client in self.clients.values())


def _order(key: SubKey) -> tuple[str, str, str]:
    return (key.type, key.symbol, key.timeframe or "")
