"""One Binance combined-stream connection, kept open forever.

Connects to `<ws_url>/stream?streams=...` (or subscribes with paced `SUBSCRIBE` frames),
answers the server's pings (the websockets library does, and pings the server in turn so
a dead TCP path is noticed), and reconnects:
- when the server closes or the network fails, after a capped, jittered backoff that
  never gives up (reset once a connection has stayed up for `stable_after` seconds);
- when no message arrives for `watchdog` seconds (a stalled stream);
- on its own before Binance's 24 h connection limit, and on a `serverShutdown` notice,
  at once.
Each (re)connection is announced through `on_open` before any of its frames is handled,
so the collector can schedule a gap repair; every trade goes to `on_trade`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from cryptoviz.exchanges.binance import EXCHANGE, Control, combined_url, decode_frame, subscribe_frames
from cryptoviz.exchanges.binance_rest import retry_after
from cryptoviz.models import Trade
from cryptoviz.tasks import backoff_delays
from cryptoviz.timeutil import now_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamSettings:
    ws_url: str
    subscribe: Literal["url", "frames"] = "url"
    watchdog: float = 60.0
    reconnect_after: float = 85_500.0
    ping_interval: float = 20.0
    open_timeout: float = 10.0
    close_timeout: float = 2.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    control_interval: float = 0.5
    """Seconds between `SUBSCRIBE` frames: Binance closes a connection that sends over
    5 messages a second, pings and pongs included."""
    max_frame_bytes: int = 1 << 20
    exchange: str = EXCHANGE

    @property
    def stable_after(self) -> float:
        """A connection up this long resets the backoff."""
        return max(1.0, self.backoff_cap)


class _Reconnect(Exception):
    """Ends a session on purpose; `planned` reconnects skip the backoff."""

    def __init__(self, reason: str, *, planned: bool) -> None:
        super().__init__(reason)
        self.planned = planned


class StreamConnection:
    """A combined-stream connection for `streams`, reconnecting forever in `run()`."""

    def __init__(
        self,
        name: str,
        streams: Sequence[str],
        settings: StreamSettings,
        *,
        on_open: Callable[[], None],
        on_trade: Callable[[Trade], None],
        room: Callable[[], Awaitable[None]],
    ) -> None:
        self.name = name
        self.streams = list(streams)
        self.settings = settings
        self._on_open = on_open
        self._on_trade = on_trade
        self._room = room
        self.connected = False
        self.since = time.monotonic()
        """When the connection last opened or closed (monotonic)."""
        self.last_message = 0.0
        self.connects = 0
        self.messages = 0
        self.malformed = 0
        self.watchdog_reconnects = 0
        self.planned_reconnects = 0
        self.last_reason = ""
        self._pause_until = 0.0
        self._listening_since = math.inf
        self._ending: _Reconnect | None = None

    def disconnected_for(self, now: float) -> float:
        """Seconds since the connection was lost (or since start); 0 while connected."""
        return 0.0 if self.connected else now - self.since

    async def run(self) -> None:
        """Connect, read, reconnect: forever (cancel to stop)."""
        settings = self.settings
        delays = backoff_delays(settings.backoff_base, settings.backoff_cap)
        while True:
            opened = time.monotonic()
            planned = await self._session()
            now = time.monotonic()
            if self.connects and now - opened >= settings.stable_after:
                delays = backoff_delays(settings.backoff_base, settings.backoff_cap)
            delay = 0.0 if planned else next(delays)
            delay = max(delay, self._pause_until - now)
            log.log(
                logging.INFO if planned else logging.WARNING,
                "binance stream %s: %s; reconnecting in %.2fs", self.name, self.last_reason, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)

    async def _session(self) -> bool:
        """One connection from open to close; True when the reconnect is planned."""
        settings = self.settings
        url = combined_url(settings.ws_url, self.streams if settings.subscribe == "url" else [])
        self._ending = None
        try:
            async with connect(
                url,
                open_timeout=settings.open_timeout,
                ping_interval=settings.ping_interval,
                ping_timeout=settings.ping_interval,
                close_timeout=settings.close_timeout,
                max_size=settings.max_frame_bytes,
                max_queue=64,
            ) as ws:
                if settings.subscribe == "frames":
                    await self._subscribe(ws)
                self._opened()
                await self._read(ws)
        except _Reconnect as exc:
            self.last_reason = str(exc)
            return self._closed(planned=exc.planned)
        except InvalidStatus as exc:  # the handshake was refused, e.g. 429 too many connections
            wait = retry_after(exc.response.headers.get("Retry-After"))
            if wait:
                self._pause_until = time.monotonic() + wait
            self.last_reason = f"connection refused: HTTP {exc.response.status_code}, Retry-After {wait}"
        except ConnectionClosed as exc:
            ending = self._why_closed()
            if ending is not None:  # closed on purpose by `_watch`
                self.last_reason = str(ending)
                return self._closed(planned=ending.planned)
            self.last_reason = f"connection closed: {exc}"
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.last_reason = f"cannot connect: {type(exc).__name__}: {exc}"
        except Exception as exc:  # unforeseen: logged in full, and the feed still never stops
            log.exception("binance stream %s: unexpected error", self.name)
            self.last_reason = f"unexpected error: {type(exc).__name__}: {exc}"
        return self._closed(planned=False)

    async def _subscribe(self, ws: ClientConnection) -> None:
        for n, frame in enumerate(subscribe_frames(self.streams)):
            if n:
                await asyncio.sleep(self.settings.control_interval)
            await ws.send(frame, text=True)

    def _opened(self) -> None:
        self.connected = True
        self.connects += 1
        self.since = self.last_message = time.monotonic()
        log.info("binance stream %s: connected, %d streams", self.name, len(self.streams))
        self._on_open()

    def _closed(self, *, planned: bool) -> bool:
        if self.connected:
            self.connected = False
            self.since = time.monotonic()
        return planned

    async def _read(self, ws: ClientConnection) -> None:
        """Hand every frame on until the connection ends; `_watch` ends it on silence and
        before the time limit (a timer task rather than a timeout per frame, which would
        cost more than decoding the frame)."""
        exchange = self.settings.exchange
        on_trade, room, recv, monotonic = self._on_trade, self._room, ws.recv, time.monotonic
        watchdog = asyncio.create_task(self._watch(ws), name=f"binance-watchdog-{self.name}")
        try:
            while True:
                self._listening_since = math.inf  # waiting for the bus is not silence
                await room()
                self._listening_since = monotonic()
                frame = await recv(decode=False)
                self.last_message = monotonic()
                self.messages += 1
                item = decode_frame(frame, now_ms(), exchange)
                if isinstance(item, Trade):
                    on_trade(item)
                else:
                    self._control(item)
        finally:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)

    async def _watch(self, ws: ClientConnection) -> None:
        """Close the connection after `watchdog` seconds without a message, or once it
        reaches `reconnect_after`; `_session` then reports why."""
        settings = self.settings
        deadline = time.monotonic() + settings.reconnect_after
        while True:
            now = time.monotonic()
            if now >= deadline:
                self.planned_reconnects += 1
                self._ending = _Reconnect("planned reconnect before the 24 h connection limit", planned=True)
                break
            since = self._listening_since
            if now - since >= settings.watchdog:  # never while waiting for the bus (inf)
                self.watchdog_reconnects += 1
                self._ending = _Reconnect(f"no message for {settings.watchdog:g}s", planned=False)
                break
            wake = min(deadline, (now if since == math.inf else since) + settings.watchdog)
            await asyncio.sleep(max(wake - now, 0.001))
        await ws.close()

    def _why_closed(self) -> _Reconnect | None:
        return self._ending

    def _control(self, item: Control) -> None:
        if item.kind == "shutdown":
            self.planned_reconnects += 1
            raise _Reconnect("the server announced its shutdown", planned=True)
        if item.kind == "malformed":
            self.malformed += 1
            if self.malformed <= 10 or self.malformed % 1000 == 0:
                log.warning(
                    "binance stream %s: unreadable frame #%d: %s", self.name, self.malformed, item.detail
                )
        elif item.kind == "error":
            log.error("binance stream %s: request refused: %s", self.name, item.detail)
        else:
            log.debug("binance stream %s: %s %s", self.name, item.kind, item.detail)

    def status(self, now: float) -> dict[str, Any]:
        return {
            "streams": len(self.streams),
            "connected": self.connected,
            "for_s": round(now - self.since, 3),
            "connects": self.connects,
            "messages": self.messages,
            "malformed": self.malformed,
            "watchdog_reconnects": self.watchdog_reconnects,
            "planned_reconnects": self.planned_reconnects,
            "last_reason": self.last_reason,
        }
