"""Line parsers for recorded Binance traffic: one line in, one `Trade` or `Skipped` out.

Parsers never raise on bad input: recordings are long, and one truncated or foreign line
must not stop a replay. Prices and quantities go from the exchange's text to `Decimal`
without passing through float.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import filterfalse
from pathlib import Path
from typing import Final, Literal

import msgspec

from cryptoviz.exchanges.binance import (
    INT_MAX,
    MAX_DIGITS,
    TIME_END,
    TIME_LOW,
    WRAPPED,
    AggTradeMsg,
    TradeMsg,
    WrappedAggTrade,
    WrappedTrade,
    amount_problem,
    epoch_to_ms,
    short,
    time_problem,
    trade_from_msg,
)
from cryptoviz.models import Trade


class Skipped(msgspec.Struct, frozen=True, gc=False):
    """A line that produced no trade, and why (the replay reports counts per reason)."""

    reason: Literal["malformed", "ignored_stream", "empty"]
    detail: str = ""


EMPTY: Final = Skipped("empty")

# Trade payloads, their bounds and their validation are Binance's wire format, shared with
# the live collector: see `cryptoviz.exchanges.binance`.


class _Envelope(msgspec.Struct, gc=False):
    # Either a combined-stream wrapper (`stream` + `data`) or a raw payload (`e`);
    # `data` stays undecoded so that depth and bookTicker lines cost only a scan.
    stream: str = ""
    data: msgspec.Raw = msgspec.Raw()
    e: str = ""
    lastUpdateId: msgspec.Raw = msgspec.Raw()  # a REST depth snapshot
    id: msgspec.Raw = msgspec.Raw()  # a subscription reply, {"result":null,"id":1}


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)
_TRADE: Final = msgspec.json.Decoder(TradeMsg)
_AGG_TRADE: Final = msgspec.json.Decoder(AggTradeMsg)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)
_EPOCH_TEXT: Final = re.compile(r"\d+(?:\.\d*)?")


def _prefix_ms(prefix: bytes) -> int:
    """A receive-time prefix (`<ns>`, `<epoch>:`, `<ISO 8601>:`) to epoch ms; -1 if unreadable."""
    try:
        return epoch_to_ms(int(prefix))  # the common `<ns> ` form, surrounding blanks allowed
    except ValueError:
        pass
    try:
        text = prefix.strip().removesuffix(b":").rstrip().decode("ascii")
        if _EPOCH_TEXT.fullmatch(text):
            return epoch_to_ms(Decimal(text))
        stamp = datetime.fromisoformat(text)
    except (ValueError, ArithmeticError):  # ArithmeticError: a number too long for the context
        return -1
    if stamp.tzinfo is None:  # recorders log UTC; a naive stamp is taken as UTC
        stamp = stamp.replace(tzinfo=UTC)
    return (stamp - _EPOCH) // _ONE_MS


_TRADE_KINDS: Final = frozenset(("trade", "aggTrade"))


def _from_payload(kind: str, payload: bytes | msgspec.Raw, exchange: str, prefix: bytes) -> Trade | Skipped:
    """Decode a payload of one of `_TRADE_KINDS`."""
    msg = _TRADE.decode(payload) if kind == "trade" else _AGG_TRADE.decode(payload)
    return _to_trade(msg, exchange, prefix)


def _to_trade(msg: TradeMsg | AggTradeMsg, exchange: str, prefix: bytes) -> Trade | Skipped:
    received_at = 0
    if prefix:  # read only for trades: most lines of a recording are ignored streams
        received_at = _prefix_ms(prefix)
        if not 0 <= received_at <= INT_MAX:
            return Skipped("malformed", f"unreadable receive-time prefix {prefix[:40]!r}")
    result = trade_from_msg(msg, exchange, received_at)
    return result if isinstance(result, Trade) else Skipped("malformed", result)


_STREAM_KEY: Final = b'{"stream":"'
_Route = Skipped | msgspec.json.Decoder[WrappedTrade] | msgspec.json.Decoder[WrappedAggTrade]
_ROUTES: dict[bytes, _Route] = {}
_MAX_ROUTES: Final = 4096
_NAME_CHAR: Final = rb"[\x00-\x21\x23-\x3f\x41-\x7f]"  # ASCII but `"` and `@`
_IGNORED_LINE: Final = re.compile(
    (
        rb'[^{]*\{"stream":"(?=[^"])'  # the first `{` opens a combined-stream message, named
        rb'(?:%(name)b*@|(?=%(name)b*"))'  # its kind follows the first `@`, if there is one
        rb'(?!(?:%(trade_kinds)b)")'  # and is not a trade kind
        rb'[\x00-\x21\x23-\x7f]*"'  # the rest of an ASCII name
        rb"(?s:.*)\}\}\r?\Z"  # a complete line
    )
    % {b"name": _NAME_CHAR, b"trade_kinds": b"|".join(map(re.escape, WRAPPED))}
)
"""A complete line of a stream that is not a trade stream: `_route` would skip it. Matched in
C over a block's lines, so most recorded lines cost no Python bytecode at all."""


def _route(body: bytes) -> _Route | None:
    """What to do with a combined-stream line, from its stream name alone: trade streams
    decode in one pass; other streams (most recorded lines: depth, book) are skipped
    without decoding. None: take the general path (odd names, too many names)."""
    name = body[len(_STREAM_KEY) : body.find(b'"', len(_STREAM_KEY))]
    route = _ROUTES.get(name)
    if route is None:
        if not name or not name.isascii() or len(_ROUTES) >= _MAX_ROUTES:
            return None
        kind = name[name.find(b"@") + 1 :]
        route = _ROUTES[name] = WRAPPED.get(kind) or Skipped("ignored_stream", name.decode())
    return route


def parse_json_line(line: bytes, exchange: str = "binance") -> Trade | Skipped:
    """Parse one JSON line: a combined-stream message or a raw payload, maybe time-prefixed.

    Recorded sample (usdm-btcusdt-20240808.recv.gz, `<receive ns> <json>`)::

        1723161255088176367 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,
        "T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}

    Also accepted: `<ts>: <json>` (epoch s/ms/µs/ns or ISO 8601, UTC if no zone) and the
    bare payload `{"e":"aggTrade",...}`. Other streams, REST depth snapshots and
    subscription replies are `ignored_stream`; anything unreadable is `malformed`.
    """
    start = line.find(b"{")
    if start < 0:
        return Skipped("malformed", "no JSON object") if line.strip() else EMPTY
    prefix = line[:start]
    body = line[start:] if start else line
    if body.startswith(_STREAM_KEY):
        route = _route(body)
        if isinstance(route, Skipped):
            # Only a complete line qualifies; a truncated one is reported malformed below.
            if body.endswith(b"}}") or body.endswith(b"}}\r"):
                return route
        elif route is not None:
            try:
                return _to_trade(route.decode(body).data, exchange, prefix)
            except ValueError:
                pass  # the general path below says what is wrong
    try:
        envelope = _ENVELOPE.decode(body)
        if stream := envelope.stream:
            kind = stream[stream.find("@") + 1 :]
            if kind in _TRADE_KINDS:
                return _from_payload(kind, envelope.data, exchange, prefix)
            return Skipped("ignored_stream", stream)
        if kind := envelope.e:
            if kind in _TRADE_KINDS:
                return _from_payload(kind, body, exchange, prefix)
            return Skipped("ignored_stream", kind)
    except ValueError as exc:  # msgspec's DecodeError/ValidationError, invalid UTF-8
        return Skipped("malformed", str(exc))
    if envelope.lastUpdateId:
        return Skipped("ignored_stream", "depth snapshot")
    if envelope.id:
        return Skipped("ignored_stream", "subscription reply")
    return Skipped("malformed", "neither a combined-stream message nor a stream payload")


def parse_json_block(lines: list[bytes], exchange: str, skipped: dict[str, int]) -> list[Trade]:
    """`parse_json_line` over many lines, counting skipped ones by reason into `skipped`.

    Complete lines of ignored streams are recognised in C (`_IGNORED_LINE`): in recorded
    traffic most lines are depth and book updates. Trade lines of a known stream decode in
    one pass here; everything else goes through `parse_json_line`.
    """
    trades: list[Trade] = []
    append = trades.append
    routes = _ROUTES
    key_len = len(_STREAM_KEY)
    ignored = len(lines)
    for line in filterfalse(_IGNORED_LINE.match, lines):
        ignored -= 1
        start = line.find(b"{")
        if (
            start >= 0
            and line.startswith(_STREAM_KEY, start)
            and (line.endswith(b"}}") or line.endswith(b"}}\r"))
        ):
            name_start = start + key_len
            route = routes.get(line[name_start : line.find(b'"', name_start)])
            if isinstance(route, Skipped):
                ignored += 1
                continue
            if route is not None:  # a trade stream seen before: decode in one pass
                try:
                    wrapped = route.decode(line[start:] if start else line)
                except ValueError:
                    pass  # the general path below says what is wrong
                else:
                    item = _to_trade(wrapped.data, exchange, line[:start])
                    if isinstance(item, Trade):
                        append(item)
                    else:
                        skipped[item.reason] = skipped.get(item.reason, 0) + 1
                    continue
        item = parse_json_line(line, exchange)
        if isinstance(item, Trade):
            append(item)
        else:
            skipped[item.reason] = skipped.get(item.reason, 0) + 1
    if ignored:
        skipped["ignored_stream"] = skipped.get("ignored_stream", 0) + ignored
    return trades


_BOOL: Final = rb"(True|False|true|false)"
_INT: Final = rb"(\d+)"
_DEC: Final = rb"(\d+(?:\.\d+)?)"
_AGG_ROW: Final = re.compile(
    rb",".join([_INT, _DEC, _DEC, _INT, _INT, _INT, _BOOL]) + rb"(?:," + _BOOL + rb")?"
)
_TRADE_ROW: Final = re.compile(rb",".join([_INT, _DEC, _DEC, _DEC, _INT, _BOOL]) + rb"(?:," + _BOOL + rb")?")
_TRUE: Final = frozenset((b"True", b"true"))
_AGG_COLUMNS: Final = [
    *("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id"),
    *("transact_time", "is_buyer_maker", "is_best_match"),
]
_TRADE_COLUMNS: Final = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"]
_DUMP_NAME: Final = re.compile(r"([A-Za-z0-9]+)-(?:aggTrades|trades)(?=[-_.])")


def _uint63(field: bytes) -> int | None:
    """An unsigned integer field of a CSV row; None from 2**63 on (SQLite's INTEGER range)."""
    if len(field) > 19:  # 2**63 has 19 digits; don't convert thousands of digits either
        field = field.lstrip(b"0") or b"0"
        if len(field) > 19:
            return None
    value = int(field)
    return value if value <= INT_MAX else None


def symbol_from_filename(path: str | Path) -> str | None:
    """The symbol of a Binance public-data dump (`XRPETH-aggTrades-2019-10-11.csv`), else None."""
    match = _DUMP_NAME.match(Path(path).name)
    return match[1].upper() if match else None


class CsvParser:
    """Parser for one Binance public-data CSV dump (aggTrades or trades, header optional).

    Recorded sample (XRPETH-aggTrades-2019-10-11_13.csv)::

        agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match
        13519807,0.00141342,23.00000000,15373518,15373518,1570752011620,True,True

    The layout is fixed by the header or, without one, by the shape of the first valid
    row; later rows of another shape are malformed. The symbol is not in the rows, so
    the caller passes it (see `symbol_from_filename`). Microsecond times become ms.
    """

    def __init__(self, symbol: str, exchange: str = "binance") -> None:
        self.symbol = symbol.upper()
        self.exchange = exchange
        self.layout: Literal["aggTrades", "trades"] | None = None

    def parse(self, line: bytes) -> Trade | Skipped:
        """One CSV line to a trade; a header line is `ignored_stream` with detail "csv header"."""
        row = line.strip()
        if not row:
            return EMPTY
        if self.layout != "trades" and (match := _AGG_ROW.fullmatch(row)):
            self.layout = "aggTrades"
            trade_id, price, quantity, first, last, time, maker, _ = match.groups()
            first_id, last_id = _uint63(first), _uint63(last)
            if first_id is None or last_id is None or not 0 <= last_id - first_id < INT_MAX:
                return Skipped("malformed", f"bad trade id range: first {first[:40]!r}, last {last[:40]!r}")
            return self._trade(trade_id, price, quantity, time, maker, last_id - first_id + 1)
        if self.layout != "aggTrades" and (match := _TRADE_ROW.fullmatch(row)):
            self.layout = "trades"
            trade_id, price, quantity, _, time, maker, _ = match.groups()
            return self._trade(trade_id, price, quantity, time, maker, 1)
        if row[:1].isalpha() or row.startswith(b"\xef\xbb\xbf"):
            return self._header(row)
        return Skipped("malformed", f"not a Binance {self.layout or 'trades/aggTrades'} row: {row[:80]!r}")

    def _trade(
        self, trade_id: bytes, price: bytes, quantity: bytes, time: bytes, maker: bytes, count: int
    ) -> Trade | Skipped:
        # The row patterns admit only unsigned integers and plain unsigned decimals.
        if not self.symbol:
            return Skipped(
                "malformed", "no symbol: the file name is not SYMBOL-trades-... or SYMBOL-aggTrades-..."
            )
        ident = _uint63(trade_id)
        if ident is None:
            return Skipped("malformed", f"trade id {short(trade_id.decode())} is not below 2**63")
        raw_time = _uint63(time)
        ms = -1 if raw_time is None else epoch_to_ms(raw_time)
        if not TIME_LOW <= ms < TIME_END:
            return Skipped("malformed", time_problem(time.decode()))
        exact_price, exact_quantity = Decimal(price.decode()), Decimal(quantity.decode())
        # Without an exponent, at most 30 characters means at most 30 digits, exponent within ±30.
        if not (len(price) <= MAX_DIGITS and len(quantity) <= MAX_DIGITS and exact_price) and (
            problem := amount_problem(exact_price, exact_quantity)
        ):
            return Skipped("malformed", problem)
        return Trade(
            self.exchange, self.symbol, ident, exact_price, exact_quantity, ms, maker in _TRUE, count
        )

    def _header(self, row: bytes) -> Skipped:
        columns = row.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace").lower().split(",")
        columns = [column.strip() for column in columns]
        layout: Literal["aggTrades", "trades"] | None = None
        if len(columns) in (7, 8) and columns == _AGG_COLUMNS[: len(columns)]:
            layout = "aggTrades"
        elif len(columns) in (6, 7) and columns == _TRADE_COLUMNS[: len(columns)]:
            layout = "trades"
        if layout is None or self.layout not in (None, layout):
            return Skipped("malformed", f"unexpected CSV header {row[:120]!r}")
        self.layout = layout
        return Skipped("ignored_stream", "csv header")
