"""Binance spot wire formats: trade payloads, stream frames, URLs and subscriptions.

Pure code with no I/O, shared by the live collector and the replay of recordings. Prices
and quantities go from the exchange's text to `Decimal` without passing through float,
and every trade is bounded (ids within 64 bits, times within this century, amounts of at
most 30 digits) so that nothing downstream can fail on it. REST pages of trades are in
`cryptoviz.exchanges.binance_pages`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Final, Literal

import msgspec

from cryptoviz.models import Trade

EXCHANGE: Final = "binance"
StreamKind = Literal["trade", "aggTrade"]
MAX_STREAMS_PER_CONNECTION: Final = 1024
"""Binance's limit of streams on one connection."""
MAX_PAGE: Final = 1000
"""Most records one REST trades request returns."""
PARAMS_PER_FRAME: Final = 200
"""Streams named in one SUBSCRIBE frame (Binance documents no limit; kept modest)."""
REST_PATHS: Final[dict[str, str]] = {"trade": "/api/v3/historicalTrades", "aggTrade": "/api/v3/aggTrades"}
REST_WEIGHTS: Final[dict[str, int]] = {"trade": 25, "aggTrade": 4}
"""Request weight of one page, as Binance's spot API documents them."""

# Bounds on what a trade may carry: SQLite's INTEGER is a signed 64-bit integer, and the
# candle aggregator multiplies price by quantity in an exact decimal context (at most
# 30 + 30 digits fit its precision).
INT_MAX: Final = 2**63 - 1
TIME_LOW: Final = 946_684_800_000  # 2000-01-01T00:00:00Z in epoch ms
TIME_END: Final = 4_102_444_800_000  # 2100-01-01T00:00:00Z in epoch ms
MAX_DIGITS: Final = 30  # significant digits of a price or quantity
_MAX_ADJUSTED: Final = 30  # |Decimal.adjusted()| of a price or quantity
_AMOUNT_LOW: Final = Decimal("1E-30")  # positive amounts with an adjusted exponent >= -30
_AMOUNT_END: Final = Decimal("1E+31")  # ... and <= 30

UInt63 = Annotated[int, msgspec.Meta(ge=0, le=INT_MAX)]
"""A JSON id or time: msgspec checks the range while decoding, at no measurable cost."""


class TradeMsg(msgspec.Struct, kw_only=True, gc=False):
    """The payload of a `<symbol>@trade` stream message."""

    s: str
    t: UInt63
    p: Decimal
    q: Decimal
    trade_time: UInt63 = msgspec.field(name="T")
    m: bool
    event_time: UInt63 = msgspec.field(default=0, name="E")


class AggTradeMsg(msgspec.Struct, kw_only=True, gc=False):
    """The payload of a `<symbol>@aggTrade` stream message."""

    s: str
    a: UInt63
    p: Decimal
    q: Decimal
    f: UInt63
    l: UInt63  # noqa: E741 - Binance's key
    trade_time: UInt63 = msgspec.field(name="T")
    m: bool
    event_time: UInt63 = msgspec.field(default=0, name="E")


class WrappedTrade(msgspec.Struct, gc=False):
    stream: str
    data: TradeMsg


class WrappedAggTrade(msgspec.Struct, gc=False):
    stream: str
    data: AggTradeMsg


WRAPPED: Final[dict[bytes, msgspec.json.Decoder[WrappedTrade] | msgspec.json.Decoder[WrappedAggTrade]]] = {
    b"trade": msgspec.json.Decoder(WrappedTrade),
    b"aggTrade": msgspec.json.Decoder(WrappedAggTrade),
}
"""One-pass decoders of combined-stream trade messages, by stream kind."""


def epoch_to_ms(value: int | Decimal) -> int:
    """Epoch seconds, ms, µs or ns (told apart by magnitude) to epoch ms, rounding down."""
    if value < 100_000_000_000:  # < 1e11: seconds (1e11 ms would be 1973)
        return int(value * 1000)
    if value < 100_000_000_000_000:  # < 1e14: milliseconds
        return int(value)
    if value < 100_000_000_000_000_000:  # < 1e17: microseconds (newer Binance dumps)
        return int(value // 1000)
    return int(value // 1_000_000)


def short(value: object) -> str:
    """A value cut to a readable length for an error message."""
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} chars)"


def amount_problem(price: Decimal, quantity: Decimal) -> str:
    """Why a price or quantity is unusable (see `MAX_DIGITS`); "" if both are fine.

    The exact check, kept off the hot path: callers first try a cheap sufficient test.
    """
    if not (price.is_finite() and quantity.is_finite() and price > 0 and quantity >= 0):
        return f"need price > 0 and quantity >= 0: p={short(price)} q={short(quantity)}"
    for name, value in (("price", price), ("quantity", quantity)):
        if (digits := len(value.as_tuple().digits)) > MAX_DIGITS:
            return f"{name} has {digits} significant digits (at most {MAX_DIGITS}): {short(value)}"
        if not -_MAX_ADJUSTED <= value.adjusted() <= _MAX_ADJUSTED:
            return f"{name} {short(value)} is out of range (exponent outside ±{_MAX_ADJUSTED})"
    return ""


def time_problem(raw: object) -> str:
    return f"trade time {short(raw)} is not within 2000-01-01..2100-01-01 (as epoch s, ms, µs or ns)"


def trade_from_msg(msg: TradeMsg | AggTradeMsg, exchange: str, received_at: int) -> Trade | str:
    """A validated `Trade`, or why the payload is unusable.

    Ids and times are within [0, 2**63) already (see `UInt63`); times in s, µs or ns are
    brought to ms.
    """
    if isinstance(msg, TradeMsg):
        trade_id, count = msg.t, 1
    else:
        if not 0 <= msg.l - msg.f < INT_MAX:  # the count, l - f + 1, must fit as well
            return f"bad trade id range: first {msg.f}, last {msg.l}"
        trade_id, count = msg.a, msg.l - msg.f + 1
    price, quantity = msg.p, msg.q
    # A sufficient test first: adjusted exponent within ±30 (the bounds, which also exclude
    # infinities) and at most 30 characters, so at most 30 digits. Anything else, a zero
    # quantity included, gets the exact test.
    try:
        plain = (
            _AMOUNT_LOW <= price < _AMOUNT_END
            and _AMOUNT_LOW <= quantity < _AMOUNT_END
            and len(str(price)) <= MAX_DIGITS
            and len(str(quantity)) <= MAX_DIGITS
        )
    except ArithmeticError:  # decimal.InvalidOperation: NaN does not compare
        plain = False
    if not plain and (problem := amount_problem(price, quantity)):
        return problem
    time = msg.trade_time
    if not TIME_LOW <= time < TIME_END:  # not epoch ms of this century: maybe s, µs or ns
        time = epoch_to_ms(time)
        if not TIME_LOW <= time < TIME_END:
            return time_problem(msg.trade_time)
    event_time = msg.event_time  # 0: unknown
    if event_time and not TIME_LOW <= event_time < TIME_END:
        event_time = epoch_to_ms(event_time)
    symbol = msg.s if msg.s.isupper() else msg.s.upper()
    return Trade(exchange, symbol, trade_id, price, quantity, time, msg.m, count, event_time, received_at)


# --- live stream frames -------------------------------------------------------------------


class Control(msgspec.Struct, frozen=True, gc=False):
    """A stream frame that carries no trade, and what it means for the connection.

    `reply`: a subscription acknowledged; `error`: a request refused; `shutdown`: the server
    will close soon (reconnect now); `ignored`: another stream; `malformed`: unreadable.
    """

    kind: Literal["reply", "error", "shutdown", "ignored", "malformed"]
    detail: str = ""


class _Envelope(msgspec.Struct, gc=False):
    stream: str = ""
    data: msgspec.Raw = msgspec.Raw()
    e: str = ""
    result: msgspec.Raw = msgspec.Raw()
    id: msgspec.Raw = msgspec.Raw()
    error: msgspec.Raw = msgspec.Raw()
    code: int | None = None
    msg: str = ""


class _Event(msgspec.Struct, gc=False):
    e: str = ""


_STREAM_KEY: Final = b'{"stream":"'
_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)
_EVENT: Final = msgspec.json.Decoder(_Event)
_SHUTDOWN: Final = "serverShutdown"
_PAYLOADS: Final[dict[str, msgspec.json.Decoder[TradeMsg] | msgspec.json.Decoder[AggTradeMsg]]] = {
    "trade": msgspec.json.Decoder(TradeMsg),
    "aggTrade": msgspec.json.Decoder(AggTradeMsg),
}


def decode_frame(frame: bytes, received_at: int, exchange: str = EXCHANGE) -> Trade | Control:
    """One text frame of a combined-stream connection: a trade or a `Control`. Never raises.

    Recorded sample (usdm-btcusdt-20240808.recv.gz)::

        {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,
        "s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}

    and (spot-BTC-ETH-DOT-2021-04-04.jsonl)::

        {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1617566591315,"s":"BTCUSDT",
        "a":665076760,"p":"58001.03000000","q":"0.08620500","f":745522877,"l":745522877,
        "T":1617566591314,"m":true,"M":true}}

    Also understood: `{"result":null,"id":1}` (a subscription acknowledged), an error
    reply (`{"error":{"code":2,"msg":"..."},"id":1}` or `{"code":2,"msg":"...","id":1}`) and
    the `serverShutdown` event, raw or wrapped.
    """
    if frame.startswith(_STREAM_KEY):
        end = frame.find(b'"', len(_STREAM_KEY))
        decoder = WRAPPED.get(frame[frame.find(b"@", len(_STREAM_KEY), end) + 1 : end])
        if decoder is not None:
            try:
                result = trade_from_msg(decoder.decode(frame).data, exchange, received_at)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                return Control("malformed", f"{exc}: {frame[:120]!r}")
            return result if isinstance(result, Trade) else Control("malformed", result)
    return _general(frame, received_at, exchange)


def _general(frame: bytes, received_at: int, exchange: str) -> Trade | Control:
    """Any other frame, or a trade frame laid out differently (spaces, key order)."""
    try:
        env = _ENVELOPE.decode(frame)
        if env.stream:
            payload = _PAYLOADS.get(env.stream[env.stream.find("@") + 1 :])
            if payload is not None and env.data:
                result = trade_from_msg(payload.decode(env.data), exchange, received_at)
                return result if isinstance(result, Trade) else Control("malformed", result)
            event = _EVENT.decode(env.data) if env.data else _Event()
            return Control("shutdown" if event.e == _SHUTDOWN else "ignored", env.stream)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        return Control("malformed", f"{exc}: {frame[:120]!r}")
    if env.e == _SHUTDOWN:
        return Control("shutdown", env.e)
    if env.error or env.code is not None:
        detail = bytes(env.error).decode("utf-8", "replace") if env.error else f"{env.code} {env.msg}"
        return Control("error", f"{detail} (request id {bytes(env.id).decode('utf-8', 'replace')})")
    if env.id:
        return Control("reply", bytes(env.id).decode("utf-8", "replace"))
    if env.e:
        return Control("ignored", env.e)
    return Control("malformed", f"neither a stream message nor a reply: {frame[:120]!r}")


# --- URLs and subscriptions ------------------------------------------------------------------


def stream_name(symbol: str, kind: StreamKind) -> str:
    """`BTCUSDT`, `trade` -> `btcusdt@trade` (stream names are lower case)."""
    return f"{symbol.lower()}@{kind}"


def chunked(items: Sequence[str], size: int) -> list[list[str]]:
    """Consecutive groups of at most `size` items: one per connection or per frame."""
    if size < 1:
        raise ValueError("size must be at least 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def combined_url(ws_url: str, streams: Sequence[str]) -> str:
    """The combined-stream URL: `<ws_url>/stream?streams=a@trade/b@trade`, or the bare
    `<ws_url>/stream` when the streams are subscribed with frames instead."""
    base = ws_url.rstrip("/") + "/stream"
    return f"{base}?streams={'/'.join(streams)}" if streams else base


def subscribe_frames(streams: Sequence[str], first_id: int = 1) -> list[bytes]:
    """`SUBSCRIBE` frames naming at most `PARAMS_PER_FRAME` streams each, ids from `first_id`.
    The caller paces them: Binance closes a connection that gets over 5 messages a second."""
    return [
        msgspec.json.encode({"method": "SUBSCRIBE", "params": group, "id": first_id + n})
        for n, group in enumerate(chunked(streams, PARAMS_PER_FRAME))
    ]
