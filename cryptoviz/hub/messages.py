"""What the hub sends: `{"type", "data", "timestamp", "seq"}` documents, encoded once per message.

A `Frame` holds one outgoing message. Data frames are encoded lazily, the first time some
client needs them, so a stream nobody watches costs no encoding; once encoded, the same
ASGI event (and so the same text) goes to every recipient and to later resumes. Clients of
the hub's own listener take `wire` instead: the whole WebSocket frame (header and payload),
built once and written as is to every one of them.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Final

import msgspec

from cryptoviz.hub.protocol import SubKey
from cryptoviz.hub.wsframe import TEXT, build, payload_of
from cryptoviz.models import Candle, IndicatorPoint, NewsItem, Trade
from cryptoviz.timeutil import now_ms, to_rfc3339

Event = dict[str, Any]
"""An ASGI `websocket.send` event, shared read-only by every client it goes to."""

CONTROL: Final = 0
TRADE: Final = 1
CANDLE: Final = 2
INDICATOR: Final = 3
NEWS: Final = 4
LAG: Final = 5
"""Frame kinds. Only TRADE frames are ever dropped and only CANDLE frames coalesced."""


class Out(msgspec.Struct, omit_defaults=True):
    type: str
    data: Any
    timestamp: int
    seq: int | None = None


class TradeData(msgspec.Struct):
    symbol: str
    price: Decimal
    quantity: Decimal
    side: str
    time: str
    trade_id: int


class CandleData(msgspec.Struct):
    symbol: str
    timeframe: str
    time: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int
    quote_volume: Decimal
    taker_buy_volume: Decimal
    closed: bool


class IndicatorData(msgspec.Struct, omit_defaults=True):
    symbol: str
    timeframe: str
    type: str
    ts: int
    value: float
    final: bool
    signal: float | None = None
    histogram: float | None = None
    upper: float | None = None
    lower: float | None = None


class NewsData(msgspec.Struct):
    id: str
    title: str
    url: str
    source: str
    published_at: str
    summary: str
    symbols: list[str]
    sentiment: float


class SubData(msgspec.Struct):
    """The echo of a subscription in `subscribed`, `unsubscribed` and `subscriptions`."""

    type: str
    symbol: str
    timeframe: str | None


class ResetData(msgspec.Struct):
    """The history no longer reaches back to `since_seq`: what is still held."""

    type: str
    symbol: str
    timeframe: str | None
    oldest_seq: int | None
    last_seq: int


class ErrorData(msgspec.Struct):
    code: str
    message: str


class Frame:
    """One outgoing message: its ASGI event once encoded, and what the buffer policy needs."""

    __slots__ = ("event", "item", "key", "kind", "seq", "ts", "wire")

    def __init__(
        self, kind: int, item: Any, seq: int = 0, key: Any = None, event: Event | None = None
    ) -> None:
        self.kind = kind
        self.item = item
        self.seq = seq
        self.key = key
        """CANDLE: (symbol, timeframe, open time), the unit of coalescing; NEWS: the item's symbols."""
        self.ts = now_ms()
        self.event = event
        self.wire: bytes | None = None
        """The unmasked text frame, header included, once some listener client needed it."""


class Encoder:
    """Encodes frames and control replies; keeps the last second's text for trade times."""

    def __init__(self) -> None:
        self._json = msgspec.json.Encoder(decimal_format="number")
        self._second = -1
        self._prefix = ""

    def text(self, value: Any) -> str:
        return self._json.encode(value).decode()

    def event(self, value: Any) -> Event:
        return {"type": "websocket.send", "text": self.text(value)}

    def control(self, kind: str, data: Any) -> Frame:
        return Frame(CONTROL, None, event=self.event(Out(kind, data, now_ms())))

    def subscription(self, kind: str, key: SubKey) -> Frame:
        return self.control(kind, SubData(key.type, key.symbol, key.timeframe))

    def error(self, code: str, message: str) -> Frame:
        return self.control("error", ErrorData(code, message))

    def encode(self, frame: Frame) -> Event:
        """The frame's event, encoded now if it was not yet."""
        event = frame.event
        if event is None:
            wire = frame.wire
            text = payload_of(wire).decode() if wire is not None else self.text(self._out(frame))
            event = frame.event = {"type": "websocket.send", "text": text}
        return event

    def wire(self, frame: Frame) -> bytes:
        """The frame's WebSocket text frame, built now if it was not yet."""
        wire = frame.wire
        if wire is None:
            event = frame.event
            if event is not None:
                wire = build(TEXT, event["text"].encode())
            else:
                wire = build(TEXT, self._json.encode(self._out(frame)))
            frame.wire = wire
        return wire

    def _out(self, frame: Frame) -> Out:
        return Out(_TYPES[frame.kind], self._data(frame.kind, frame.item), frame.ts, frame.seq)

    def _data(self, kind: int, item: Any) -> Any:
        if kind == TRADE:
            t: Trade = item
            return TradeData(t.symbol, t.price, t.quantity, t.side, self.time_ms(t.time), t.trade_id)
        if kind == CANDLE:
            c: Candle = item
            return CandleData(
                c.symbol, c.interval, to_rfc3339(c.open_time), c.open, c.high, c.low, c.close, c.volume,
                c.trades, c.quote_volume, c.taker_buy_volume, c.closed,
            )  # fmt: skip
        if kind == INDICATOR:
            p: IndicatorPoint = item
            return IndicatorData(
                p.symbol, p.interval, p.type, p.ts, p.value, p.final, p.signal, p.histogram, p.upper, p.lower
            )
        n: NewsItem = item
        return NewsData(
            n.id, n.title, n.url, n.source, to_rfc3339(n.published_at), n.summary, n.symbols, n.sentiment
        )

    def time_ms(self, ms: int) -> str:
        """RFC 3339 UTC with milliseconds, always (trades); the date part is cached per second."""
        second, millis = divmod(ms, 1000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{millis:03d}Z"


_TYPES: Final = {TRADE: "trade", CANDLE: "candle", INDICATOR: "indicator", NEWS: "news"}
