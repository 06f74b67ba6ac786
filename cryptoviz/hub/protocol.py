"""What a client may send on /ws/crypto, checked once, with a stable error code for each fault.

A message is one JSON object: `{"action": "subscribe"|"unsubscribe", "type": ..., "symbol":
..., "timeframe": ..., "since_seq": N}`, `{"action": "list_subscriptions"}` or `{"action":
"ping"}`. Unknown extra fields are ignored, so clients can add their own (a request id, say).
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal, NamedTuple

import msgspec

from cryptoviz.models import INTERVALS

SubType = Literal["candles", "trades", "indicators", "news"]
SUB_TYPES: Final[tuple[SubType, ...]] = ("candles", "trades", "indicators", "news")
WITH_TIMEFRAME: Final = frozenset({"candles", "indicators"})
ACTIONS: Final = ("subscribe", "unsubscribe", "list_subscriptions", "ping")
WILDCARD: Final = "*"
DEFAULT_TIMEFRAME: Final = "1m"
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")


class SubKey(NamedTuple):
    """A subscription, and also a stream when `symbol` is not the wildcard.

    `timeframe` is None for trades and news. The news stream is `("news", "*", None)`.
    """

    type: str
    symbol: str
    timeframe: str | None


class ProtocolError(Exception):
    """A client fault: answered with an `error` message, and the connection stays open."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Command(NamedTuple):
    action: str
    key: SubKey | None = None
    since_seq: int | None = None


class _Message(msgspec.Struct):
    action: str
    type: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    since_seq: Annotated[int, msgspec.Meta(ge=0)] | None = None


_decoder = msgspec.json.Decoder(_Message)


def _clip(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse(raw: str | bytes) -> Command:
    """Decode and validate one client message; raises ProtocolError naming the fault."""
    try:
        message = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise ProtocolError("invalid_message", f"not a valid message: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError("invalid_json", f"not a JSON document: {exc}") from None
    action = message.action
    if action not in ACTIONS:
        raise ProtocolError(
            "unknown_action", f"unknown action {_clip(action)}: expected one of {', '.join(ACTIONS)}"
        )
    if action in ("ping", "list_subscriptions"):
        return Command(action)
    key = _subscription(message)
    since = message.since_seq if action == "subscribe" else None
    if since is not None and key.symbol == WILDCARD and key.type != "news":
        raise ProtocolError(
            "invalid_since_seq",
            "since_seq needs one symbol: each symbol's messages are numbered on their own",
        )
    return Command(action, key, since)


def _subscription(message: _Message) -> SubKey:
    kind = message.type
    if kind is None:
        raise ProtocolError("unknown_type", f"type is required: one of {', '.join(SUB_TYPES)}")
    if kind not in SUB_TYPES:
        raise ProtocolError(
            "unknown_type", f"unknown type {_clip(kind)}: expected one of {', '.join(SUB_TYPES)}"
        )
    return SubKey(kind, symbol_of(message.symbol), timeframe_of(kind, message.timeframe))


def symbol_of(raw: str | None) -> str:
    """The REST rule: 2-20 letters or digits, lower case upper-cased; or `*` for every symbol."""
    if raw is None:
        raise ProtocolError("invalid_symbol", "symbol is required: a symbol such as BTCUSDT, or * for all")
    if raw == WILDCARD:
        return raw
    symbol = raw.upper()
    if not raw.isascii() or not _SYMBOL.match(symbol):
        raise ProtocolError(
            "invalid_symbol", f"malformed symbol {_clip(raw)}: expected 2-20 letters or digits, or *"
        )
    return symbol


def timeframe_of(kind: str, raw: str | None) -> str | None:
    """Candles and indicators default to 1m; trades and news have no timeframe (ignored if sent)."""
    if kind not in WITH_TIMEFRAME:
        return None
    if raw is None:
        return DEFAULT_TIMEFRAME
    if raw not in INTERVALS:
        raise ProtocolError(
            "invalid_timeframe", f"invalid timeframe {_clip(raw)}: expected one of {', '.join(INTERVALS)}"
        )
    return raw
