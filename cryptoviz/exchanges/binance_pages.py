"""Binance REST trade pages: `/api/v3/historicalTrades` and `/api/v3/aggTrades` records.

Validated exactly as stream payloads are (`cryptoviz.exchanges.binance`), since a repaired
trade must be indistinguishable from a live one except for its missing event time.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

import msgspec

from cryptoviz.exchanges.binance import EXCHANGE, AggTradeMsg, StreamKind, TradeMsg, UInt63, trade_from_msg
from cryptoviz.models import Trade


class _RestTrade(msgspec.Struct, gc=False):
    id: UInt63
    price: Decimal
    qty: Decimal
    time: UInt63
    isBuyerMaker: bool


class _RestAggTrade(msgspec.Struct, gc=False):
    a: UInt63
    p: Decimal
    q: Decimal
    f: UInt63
    l: UInt63  # noqa: E741 - Binance's key
    T: UInt63
    m: bool


class _Id(msgspec.Struct, gc=False):
    id: UInt63 | None = None
    a: UInt63 | None = None


class Page(msgspec.Struct, gc=False):
    """One REST page: its valid trades in id order, the largest id it held (valid or not,
    so paging moves past a bad record), how many records it held, and what was unusable."""

    trades: list[Trade]
    last_id: int | None
    records: int
    malformed: list[str]


class RestError(msgspec.Struct, gc=False):
    """Binance's error body, `{"code":-1121,"msg":"Invalid symbol."}`."""

    code: int = 0
    msg: str = ""


_PAGES: Final[
    dict[str, msgspec.json.Decoder[list[_RestTrade]] | msgspec.json.Decoder[list[_RestAggTrade]]]
] = {
    "trade": msgspec.json.Decoder(list[_RestTrade]),
    "aggTrade": msgspec.json.Decoder(list[_RestAggTrade]),
}
_ONE: Final[dict[str, msgspec.json.Decoder[_RestTrade] | msgspec.json.Decoder[_RestAggTrade]]] = {
    "trade": msgspec.json.Decoder(_RestTrade),
    "aggTrade": msgspec.json.Decoder(_RestAggTrade),
}
_RAW_LIST: Final = msgspec.json.Decoder(list[msgspec.Raw])
_ID: Final = msgspec.json.Decoder(_Id)
ERROR_BODY: Final = msgspec.json.Decoder(RestError)


def decode_page(
    body: bytes, kind: StreamKind, symbol: str, received_at: int, exchange: str = EXCHANGE
) -> Page:
    """A page of `/api/v3/historicalTrades` (kind `trade`) or `/api/v3/aggTrades` (kind
    `aggTrade`). Raises `ValueError` when the body is not a JSON list at all.

    Sample, from Binance's spot API documentation (historicalTrades)::

        [{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012",
          "time":1499865549590,"isBuyerMaker":true,"isBestMatch":true}]

    and aggTrades::

        [{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,
          "T":1498793709153,"m":true,"M":true}]

    REST records carry no symbol and no event time: the symbol is the one asked for and
    `event_time` stays 0 (unknown). A record that fails validation is reported in
    `malformed` and skipped; the others are kept.
    """
    try:
        records: Sequence[_RestTrade | _RestAggTrade] = _PAGES[kind].decode(body)
    except msgspec.DecodeError:  # ValidationError included: find the bad records one by one
        try:
            raws = _RAW_LIST.decode(body)
        except msgspec.DecodeError as exc:
            raise ValueError(f"not a JSON list of {kind} records: {exc}") from None
        return _page_one_by_one(raws, kind, symbol, received_at, exchange)
    trades: list[Trade] = []
    malformed: list[str] = []
    for record in records:
        _add(record, symbol, received_at, exchange, trades, malformed)
    return Page(trades, _last_id(records[-1]) if records else None, len(records), malformed)


def _page_one_by_one(
    raws: list[msgspec.Raw], kind: StreamKind, symbol: str, received_at: int, exchange: str
) -> Page:
    decoder = _ONE[kind]
    trades: list[Trade] = []
    malformed: list[str] = []
    last_id: int | None = None
    for raw in raws:
        try:
            ident = _ID.decode(raw)
            last_id = ident.id if ident.id is not None else ident.a if ident.a is not None else last_id
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
        try:
            record = decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            malformed.append(f"{exc}: {bytes(raw)[:120]!r}")
            continue
        _add(record, symbol, received_at, exchange, trades, malformed)
    return Page(trades, last_id, len(raws), malformed)


def _last_id(record: _RestTrade | _RestAggTrade) -> int:
    return record.id if isinstance(record, _RestTrade) else record.a


def _add(
    record: _RestTrade | _RestAggTrade,
    symbol: str,
    received_at: int,
    exchange: str,
    trades: list[Trade],
    malformed: list[str],
) -> None:
    msg: TradeMsg | AggTradeMsg
    if isinstance(record, _RestTrade):
        msg = TradeMsg(
            s=symbol, t=record.id, p=record.price, q=record.qty, trade_time=record.time, m=record.isBuyerMaker
        )
    else:
        msg = AggTradeMsg(
            s=symbol, a=record.a, p=record.p, q=record.q, f=record.f, l=record.l, trade_time=record.T,
            m=record.m,
        )  # fmt: skip
    result = trade_from_msg(msg, exchange, received_at)
    if isinstance(result, Trade):
        trades.append(result)
    else:
        malformed.append(f"id {_last_id(record)}: {result}")
