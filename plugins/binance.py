"""Live Binance collector: combined trade streams to `crypto.raw.trades`, with no holes.

Streams go up to 1024 per connection (more symbols, more connections). Each connection
reconnects forever (see `cryptoviz.exchanges.binance_stream`). After every (re)connect,
at start from the last stored trade id, and whenever the stream skips ids, the missing
trades are fetched over REST in pages (`cryptoviz.exchanges.binance_rest`), within the
exchange's request weight. Meanwhile the symbol's live trades are held, then published
after the repaired ones, so each symbol's trades reach the bus once, in id order
(`cryptoviz.exchanges.sequencer`). Trades keep the exchange's trade and event times and
the local receive time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Annotated, Any, Literal

import httpx
import msgspec

from cryptoviz.exchanges.binance import (
    EXCHANGE,
    MAX_PAGE,
    MAX_STREAMS_PER_CONNECTION,
    chunked,
    stream_name,
)
from cryptoviz.exchanges.binance_rest import RestPager, RestRefused, WeightBudget
from cryptoviz.exchanges.binance_stream import StreamConnection, StreamSettings
from cryptoviz.exchanges.outbox import Outbox
from cryptoviz.exchanges.sequencer import Sequencer
from cryptoviz.models import TOPIC_RAW_TRADES, Trade
from cryptoviz.plugin import PluginContext, PluginSpec
from cryptoviz.tasks import backoff_delays, cancel_and_wait

log = logging.getLogger(__name__)

Symbol = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{2,20}$")]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]


class BinanceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    symbols: Annotated[list[Symbol], msgspec.Meta(min_length=1, max_length=10_000)] = msgspec.field(
        default_factory=lambda: ["BTCUSDT", "ETHUSDT"]
    )
    stream: Literal["trade", "aggTrade"] = "trade"
    """`trade`: every trade (REST repair from historicalTrades, weight 25 a page);
    `aggTrade`: trades aggregated per taker order (aggTrades, weight 4 a page)."""
    exchange: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,32}$")] = EXCHANGE
    """Name stored with the trades: set another one for Binance.US or a testnet, whose ids differ."""
    ws_url: Annotated[str, msgspec.Meta(pattern=r"^wss?://[^\s/?#]+(/[^\s?#]*)?$")] = (
        "wss://stream.binance.com:9443"
    )
    rest_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")] = (
        "https://api.binance.com"
    )
    subscribe: Literal["url", "frames"] = "url"
    """`url`: streams named in the connection URL; `frames`: `SUBSCRIBE` frames, 2 a second."""
    streams_per_connection: Annotated[int, msgspec.Meta(ge=1, le=MAX_STREAMS_PER_CONNECTION)] = (
        MAX_STREAMS_PER_CONNECTION
    )
    watchdog_seconds: Seconds = 60.0
    """Reconnect when a connection delivers no message for this long."""
    reconnect_after_seconds: Seconds = 85_500.0
    """Reconnect on our own before Binance's 24 h limit (default 23 h 45 min)."""
    ping_interval_seconds: Seconds = 20.0
    open_timeout_seconds: Seconds = 10.0
    backoff_base_seconds: Seconds = 0.5
    backoff_cap_seconds: Seconds = 30.0
    rest_page_size: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)] = MAX_PAGE
    rest_weight_per_minute: Annotated[int, msgspec.Meta(ge=1, le=6000)] = 3000
    """This collector's share of Binance's 6,000 per IP and minute."""
    rest_timeout_seconds: Seconds = 10.0
    rest_concurrency: Annotated[int, msgspec.Meta(ge=1, le=16)] = 2
    """Symbols repaired at the same time."""
    rest_lag_seconds: Seconds = 0.5
    """Wait before asking again when REST has not yet caught up with the stream."""
    max_held_trades: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 20_000
    """Live trades held per symbol during a repair; past it the oldest go, fetched over REST instead."""
    outbox_trades: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 10_000
    """Trades waiting for the bus before the sockets stop being read."""
    publish_linger_ms: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 10
    """Wait after a trade for others to join its bus batch (Kafka's `linger.ms`): one batch
    per 10 ms instead of one hand-off per trade through every handler downstream."""
    max_disconnected_seconds: Seconds = 60.0
    """/ready fails once a symbol's connection has been down this long."""
    api_key: str = ""
    """Sent as `X-MBX-APIKEY` when set (Binance.US historicalTrades needs one); not needed on binance.com."""

    def __post_init__(self) -> None:
        twice = sorted({s for s in self.symbols if self.symbols.count(s) > 1})
        if twice:
            raise ValueError(f"symbols listed twice: {', '.join(twice)}")


class _Symbol:
    """One symbol's sequencer, its connection and its counters for /ready."""

    __slots__ = (
        "connection",
        "gaps_repaired",
        "last_repair_s",
        "last_seen",
        "last_trade",
        "repairs",
        "seq",
        "trades_repaired",
    )

    def __init__(self, seq: Sequencer) -> None:
        self.seq = seq
        self.connection: StreamConnection | None = None
        self.last_seen = 0.0
        self.last_trade: Trade | None = None
        self.repairs = 0
        self.gaps_repaired = 0
        self.trades_repaired = 0
        self.last_repair_s: float | None = None


class BinancePlugin:
    def __init__(self, config: BinanceConfig) -> None:
        self.config = config
        self.trades_repaired = 0
        self.unexpected = 0
        self.discarded_at_stop = 0
        self._symbols: dict[str, _Symbol] = {}
        self._connections: list[StreamConnection] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._publisher: asyncio.Task[None] | None = None
        self._repairs: dict[str, asyncio.Task[None]] = {}
        self._outbox: Outbox | None = None
        self._pager: RestPager | None = None
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(config.rest_concurrency)
        self._ctx: PluginContext | None = None

    async def start(self, ctx: PluginContext) -> None:
        config = self.config
        self._ctx = ctx
        stored = await ctx.storage.last_trade_ids()
        for symbol in config.symbols:
            seq = Sequencer(symbol, stored.get((config.exchange, symbol)), config.max_held_trades)
            self._symbols[symbol] = _Symbol(seq)
        outbox = self._outbox = Outbox(
            ctx.bus, TOPIC_RAW_TRADES, config.outbox_trades, config.publish_linger_ms / 1000
        )
        headers = {"X-MBX-APIKEY": config.api_key} if config.api_key else {}
        self._client = httpx.AsyncClient(
            base_url=config.rest_url,
            headers=headers,
            timeout=config.rest_timeout_seconds,
            limits=httpx.Limits(max_connections=config.rest_concurrency),
        )
        budget = WeightBudget(config.rest_weight_per_minute)
        self._pager = RestPager(
            self._client, config.stream, budget, page_size=config.rest_page_size,
            backoff_base=config.backoff_base_seconds, backoff_cap=config.backoff_cap_seconds,
            exchange=config.exchange,
        )  # fmt: skip
        self._publisher = ctx.tasks.spawn(outbox.run(), "binance-outbox")
        settings = StreamSettings(
            ws_url=config.ws_url, subscribe=config.subscribe, watchdog=config.watchdog_seconds,
            reconnect_after=config.reconnect_after_seconds, ping_interval=config.ping_interval_seconds,
            open_timeout=config.open_timeout_seconds, backoff_base=config.backoff_base_seconds,
            backoff_cap=config.backoff_cap_seconds, exchange=config.exchange,
        )  # fmt: skip
        groups = chunked(config.symbols, config.streams_per_connection)
        for n, group in enumerate(groups):
            streams = [stream_name(s, config.stream) for s in group]
            connection = StreamConnection(
                f"{n + 1}/{len(groups)}", streams, settings,
                on_open=partial(self._on_open, group), on_trade=self._on_trade, room=outbox.room,
            )  # fmt: skip
            for symbol in group:
                self._symbols[symbol].connection = connection
            self._connections.append(connection)
            self._tasks.append(ctx.tasks.spawn(connection.run(), f"binance-stream-{n + 1}"))

    def _on_open(self, symbols: list[str]) -> None:
        """A connection (re)opened: its symbols may have missed trades."""
        for symbol in symbols:
            state = self._symbols[symbol]
            if state.seq.reconnected() or state.seq.repairing:
                self._start_repair(state)  # a no-op while its repair task runs

    def _on_trade(self, trade: Trade) -> None:
        state = self._symbols.get(trade.symbol)
        if state is None:
            self.unexpected += 1
            return
        state.last_seen = time.monotonic()
        state.last_trade = trade
        out: list[Trade] = []
        if state.seq.on_live(trade, out):
            log.warning(
                "binance %s: the stream skipped from id %s to %s; repairing",
                trade.symbol, state.seq.last_id, trade.trade_id,
            )  # fmt: skip
            self._start_repair(state)
        if out:
            assert self._outbox is not None
            self._outbox.put(out)

    def _start_repair(self, state: _Symbol) -> None:
        symbol = state.seq.symbol
        task = self._repairs.get(symbol)
        if (task is None or task.done()) and self._ctx is not None:
            self._repairs[symbol] = self._ctx.tasks.spawn(self._repair(state), f"binance-repair-{symbol}")

    async def _repair(self, state: _Symbol) -> None:
        delays = backoff_delays(self.config.backoff_base_seconds, self.config.backoff_cap_seconds)
        async with self._slots:
            while state.seq.repairing:
                try:
                    await self._repair_once(state)
                except Exception:  # a bug must not leave the symbol held for good: try again
                    log.exception("binance %s: repair failed; retrying", state.seq.symbol)
                    await asyncio.sleep(next(delays))

    async def _repair_once(self, state: _Symbol) -> None:
        """Page over REST from the last id handed out up to the first held one, publishing
        each page as it comes, then release the held trades."""
        assert self._pager is not None
        assert self._outbox is not None
        seq, outbox, pager = state.seq, self._outbox, self._pager
        assert seq.last_id is not None
        seq.repair_started = True
        started = time.monotonic()
        next_id = seq.last_id + 1
        fetched = 0
        repaired = True
        try:
            while True:
                target = seq.target()
                if target is not None and next_id >= target:
                    break
                await outbox.room()
                page = await pager.page(seq.symbol, next_id)
                out: list[Trade] = []
                next_id = seq.on_repaired(page.trades, out, page.last_id)
                outbox.put(out)
                fetched += len(out)
                if page.malformed:
                    log.error("binance REST %s: skipped unusable records: %s", seq.symbol, page.malformed[:5])
                if page.records < pager.page_size:  # REST has nothing newer yet
                    target = seq.target()
                    if target is None:
                        break
                    if next_id < target:
                        await asyncio.sleep(self.config.rest_lag_seconds)
        except RestRefused as exc:
            repaired = False
            log.error("binance %s: repair given up, ids from %d may be missing: %s", seq.symbol, next_id, exc)
        out = []
        seq.finish(out, repaired=repaired)
        outbox.put(out)
        state.repairs += 1
        state.last_repair_s = round(time.monotonic() - started, 3)
        if fetched:
            state.gaps_repaired += 1
            state.trades_repaired += fetched
            self.trades_repaired += fetched
            log.info(
                "binance %s: repaired %d trades over REST in %.2fs", seq.symbol, fetched, state.last_repair_s
            )

    async def stop(self) -> None:
        """Close the sockets and stop repairs, then let the queued trades reach the bus. Held
        trades are dropped: the next start repairs from the last stored id and fetches them."""
        try:
            await cancel_and_wait(*self._repairs.values(), *self._tasks)
            for state in self._symbols.values():
                self.discarded_at_stop += state.seq.discard_held()
            if self._outbox is not None and self._publisher is not None and not self._publisher.done():
                await self._outbox.drained()
        finally:
            await cancel_and_wait(self._publisher)
            if self._client is not None:
                await self._client.aclose()

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        limit = self.config.max_disconnected_seconds
        tasks = [*self._tasks, self._publisher]
        ok = bool(self._tasks) and all(t is not None and not t.done() for t in tasks)
        symbols: dict[str, Any] = {}
        for name, state in self._symbols.items():
            seq, connection = state.seq, state.connection
            down = connection.disconnected_for(now) if connection is not None else 0.0
            ok = ok and down <= limit
            last = state.last_trade
            symbols[name] = {
                "connected": connection is not None and connection.connected,
                "state": "repairing" if seq.repairing else "live",
                "last_message_age_s": round(now - state.last_seen, 3) if state.last_seen else None,
                "last_trade_id": seq.last_id,
                "gaps_repaired": state.gaps_repaired,
                "trades_repaired": state.trades_repaired,
                "repairs": state.repairs,
                "last_repair_s": state.last_repair_s,
                "stream_gaps": seq.gaps,
                "unrepaired_gaps": seq.unrepaired,
                "held": len(seq.held),
                "held_dropped": seq.held_dropped,
                "overlap_dropped": seq.overlap,
                "exchange_lag_ms": last.received_at - last.event_time if last and last.event_time else None,
            }
        return {
            "ok": ok,
            "stream": self.config.stream,
            "symbols": symbols,
            "connections": [c.status(now) for c in self._connections],
            "rest": self._pager.status() if self._pager is not None else {},
            "published": self._outbox.published if self._outbox is not None else 0,
            "pending": self._outbox.pending if self._outbox is not None else 0,
            "trades_repaired": self.trades_repaired,
            "unexpected_symbol": self.unexpected,
            "discarded_at_stop": self.discarded_at_stop,
        }


plugin = PluginSpec(
    name="binance",
    kind="source",
    description="Live Binance spot trades over combined streams, gaps repaired over REST",
    config_type=BinanceConfig,
    factory=BinancePlugin,
)
