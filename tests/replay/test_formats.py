"""Line parsers: exact decimals, every accepted shape, and bad lines that never raise."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cryptoviz.models import Trade
from cryptoviz.replay.formats import CsvParser, Skipped, epoch_to_ms, parse_json_line, symbol_from_filename

# Recorded lines (spot-BTC-ETH-DOT-2021-04-04.jsonl and usdm-btcusdt-20240808.recv.gz).
SPOT_AGG = (
    b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1617566591315,"s":"BTCUSDT","a":665076760,'
    b'"p":"58001.03000000","q":"0.08620500","f":745522877,"l":745522877,"T":1617566591314,"m":true,"M":true}}'
)
SPOT_AGG_MULTI = (
    b'{"stream":"dotusdt@aggTrade","data":{"e":"aggTrade","E":1617566591843,"s":"DOTUSDT","a":54605678,'
    b'"p":"43.53150000","q":"0.90000000","f":63392595,"l":63392597,"T":1617566591841,"m":true,"M":true}}'
)
USDM_TRADE_JSON = (
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT",'
    b'"t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}'
)
USDM_TRADE = b"1723161255088176367 " + USDM_TRADE_JSON + b"\n"
BOOK_TICKER = (
    b'1723161255088169167 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,'
    b'"s":"BTCUSDT","b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}}'
)
RAW_TRADE = b'{"e":"trade","E":1,"T":2,"s":"ethbtc","t":7,"p":"0.05","q":"1.5","m":true}'


def _trade(line: bytes) -> Trade:
    result = parse_json_line(line)
    assert isinstance(result, Trade), result
    return result


def test_combined_aggtrade_is_exact() -> None:
    assert _trade(SPOT_AGG) == Trade(
        exchange="binance",
        symbol="BTCUSDT",
        trade_id=665076760,
        price=Decimal("58001.03000000"),
        quantity=Decimal("0.08620500"),
        time=1617566591314,
        buyer_is_maker=True,
        count=1,
        event_time=1617566591315,
    )


def test_aggtrade_counts_raw_trades() -> None:
    trade = _trade(SPOT_AGG_MULTI)
    assert (trade.trade_id, trade.count, trade.symbol) == (54605678, 63392597 - 63392595 + 1, "DOTUSDT")
    assert trade.price == Decimal("43.53150000")
    assert str(trade.quantity) == "0.90000000"  # the exchange's text, scale included


def test_trade_with_receive_ns_prefix() -> None:
    trade = _trade(USDM_TRADE)
    assert (trade.trade_id, trade.count, trade.buyer_is_maker) == (5266583935, 1, False)
    assert (trade.price, trade.quantity) == (Decimal("61800.30"), Decimal("0.006"))
    assert (trade.time, trade.event_time, trade.received_at) == (1723161256322, 1723161256322, 1723161255088)
    assert trade.side == "buy"


@pytest.mark.parametrize(
    "prefix",
    [
        b"1723161255088: ",
        b"1723161255: ",  # seconds: ms part is 0
        b"1723161255.088412: ",  # cryptofeed writes float seconds
        b"1723161255088412: ",
        b"1723161255088412999 ",
        b"2024-08-08T23:54:15.088Z: ",
        b"2024-08-08T23:54:15.088412+00:00: ",
        b"2024-08-09T01:54:15.088+02:00: ",
        b"2024-08-08 23:54:15.088: ",  # no zone: UTC
    ],
)
def test_receive_time_prefix_forms(prefix: bytes) -> None:
    expected = 1723161255000 if prefix == b"1723161255: " else 1723161255088
    assert _trade(prefix + USDM_TRADE_JSON).received_at == expected


def test_raw_payloads() -> None:
    trade = _trade(RAW_TRADE)
    assert (trade.symbol, trade.trade_id, trade.price, trade.time, trade.event_time) == (
        "ETHBTC",
        7,
        Decimal("0.05"),
        2,
        1,
    )
    agg = _trade(SPOT_AGG_MULTI[SPOT_AGG_MULTI.index(b'"data":') + 7 : -1])
    assert (agg.trade_id, agg.count) == (54605678, 3)


def test_exchange_is_the_callers() -> None:
    assert parse_json_line(SPOT_AGG, exchange="binance-us") == Trade(
        "binance-us",
        "BTCUSDT",
        665076760,
        Decimal("58001.03"),
        Decimal("0.086205"),
        1617566591314,
        True,
        1,
        1617566591315,
    )


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        (BOOK_TICKER, "btcusdt@bookTicker"),
        (b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","b":[],"a":[]}}', "btcusdt@depth@100ms"),
        (b'{"stream":"btcusdt@kline_1m","data":{}}', "btcusdt@kline_1m"),
        (b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","b":[],"a":[]}', "depthUpdate"),
        (b'1 {"lastUpdateId":5123107852948,"E":1,"T":1,"bids":[],"asks":[]}', "depth snapshot"),
        (b'{"result":null,"id":1}', "subscription reply"),
    ],
)
def test_ignored_streams(line: bytes, detail: str) -> None:
    assert parse_json_line(line) == Skipped("ignored_stream", detail)


def _replace(old: bytes, new: bytes) -> bytes:
    assert old in USDM_TRADE_JSON
    return USDM_TRADE_JSON.replace(old, new)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"\x00\x01\x02garbage\xff", id="garbage"),
        pytest.param(b"hello world", id="text"),
        pytest.param(USDM_TRADE_JSON[:-20], id="truncated"),
        pytest.param(b"[1, 2, 3]", id="array"),
        pytest.param(b'{"foo": 1}', id="unknown-object"),
        pytest.param(b'{"stream": 5, "data": {}}', id="stream-not-str"),
        pytest.param(b'{"stream":"btcusdt@trade"}', id="no-data"),
        pytest.param(b'{"stream":"btcusdt@trade","data":[1]}', id="data-array"),
        pytest.param(_replace(b'"p":"61800.30",', b""), id="missing-price"),
        pytest.param(_replace(b'"s":"BTCUSDT",', b""), id="missing-symbol"),
        pytest.param(_replace(b'"p":"61800.30"', b'"p":"0"'), id="zero-price"),
        pytest.param(_replace(b'"p":"61800.30"', b'"p":"-1"'), id="negative-price"),
        pytest.param(_replace(b'"q":"0.006"', b'"q":"-0.006"'), id="negative-quantity"),
        pytest.param(_replace(b'"p":"61800.30"', b'"p":"NaN"'), id="nan-price"),
        pytest.param(_replace(b'"q":"0.006"', b'"q":"Infinity"'), id="infinite-quantity"),
        pytest.param(_replace(b'"p":"61800.30"', b'"p":"abc"'), id="bad-decimal"),
        pytest.param(_replace(b'"t":5266583935', b'"t":"5266583935"'), id="id-as-string"),
        pytest.param(_replace(b'"m":false', b'"m":"no"'), id="bool-as-string"),
        pytest.param(_replace(b'"BTCUSDT"', b'"BTC\xff\xfe"'), id="non-utf8"),
        pytest.param(b"12:34:56 nonsense " + USDM_TRADE_JSON, id="bad-prefix"),
        pytest.param(b"\xff\xfe " + USDM_TRADE_JSON, id="non-utf8-prefix"),
        pytest.param(SPOT_AGG_MULTI.replace(b'"l":63392597', b'"l":63392590'), id="last-before-first"),
    ],
)
def test_bad_lines_are_malformed(line: bytes) -> None:
    result = parse_json_line(line)
    assert isinstance(result, Skipped), result
    assert result.reason == "malformed"
    assert result.detail


@pytest.mark.parametrize("line", [b"", b"\n", b"  \r\n", b"\t"])
def test_blank_lines_are_empty(line: bytes) -> None:
    assert parse_json_line(line) == Skipped("empty")
    assert CsvParser("BTCUSDT").parse(line) == Skipped("empty")


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (1617566591, 1617566591000),
        (1617566591314, 1617566591314),
        (1617566591314999, 1617566591314),
        (1617566591314999999, 1617566591314),
        (Decimal("1617566591.3149"), 1617566591314),
    ],
)
def test_epoch_units_by_magnitude(value: int | Decimal, ms: int) -> None:
    assert epoch_to_ms(value) == ms


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("XRPETH-aggTrades-2019-10-11_13.csv", "XRPETH"),
        ("/data/BTCUSDT-trades-2024-08.csv.gz", "BTCUSDT"),
        ("btcusdt-trades-2024-08-08.csv", "BTCUSDT"),
        ("spot-BTC-ETH-DOT-2021-04-04.jsonl", None),
        ("trades.csv", None),
        ("BTCUSDT-tradesX.csv", None),
    ],
)
def test_symbol_from_filename(name: str, symbol: str | None) -> None:
    assert symbol_from_filename(name) == symbol


AGG_HEADER = (
    b"agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match"
)
AGG_ROW = b"13519807,0.00141342,23.00000000,15373518,15373520,1570752011620,True,True\n"


def test_csv_aggtrades_with_header() -> None:
    parser = CsvParser("xrpeth")
    assert parser.parse(AGG_HEADER + b"\r\n") == Skipped("ignored_stream", "csv header")
    assert parser.parse(AGG_ROW) == Trade(
        "binance", "XRPETH", 13519807, Decimal("0.00141342"), Decimal("23.00000000"), 1570752011620, True, 3
    )
    assert parser.layout == "aggTrades"


@pytest.mark.parametrize(
    "row",
    [
        b"26129,0.01633102,4.70443515,27781,27781,1498793709153,true,true",
        b"26129,0.01633102,4.70443515,27781,27781,1498793709153,true",  # futures dumps: no is_best_match
        b"26129,0.01633102,4.70443515,27781,27781,1498793709153153,true",  # microseconds (2025+ dumps)
    ],
)
def test_csv_aggtrades_without_header(row: bytes) -> None:
    trade = CsvParser("ETHBTC", exchange="binance-x").parse(row)
    assert trade == Trade(
        "binance-x", "ETHBTC", 26129, Decimal("0.01633102"), Decimal("4.70443515"), 1498793709153, True
    )


@pytest.mark.parametrize(
    ("header", "row"),
    [
        (
            b"id,price,qty,quote_qty,time,is_buyer_maker",
            b"28457,4036.08,0.000546,2.20370,1502942432285,false",
        ),
        (None, b"28457,4036.08,0.000546,2.20370,1502942432285,False,True"),
        (None, b"28457,4036.08,0.000546,2.20370,1502942432285123,false"),
    ],
)
def test_csv_trades(header: bytes | None, row: bytes) -> None:
    parser = CsvParser("BTCUSDT")
    if header is not None:
        assert parser.parse(header) == Skipped("ignored_stream", "csv header")
    assert parser.parse(row) == Trade(
        "binance", "BTCUSDT", 28457, Decimal("4036.08"), Decimal("0.000546"), 1502942432285, False
    )
    assert parser.layout == "trades"


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(b"13519807,0.0014x342,23.0,15373518,15373518,1570752011620,True,True", id="bad-number"),
        pytest.param(b"13519807,-0.00141342,23.0,15373518,15373518,1570752011620,True,True", id="negative"),
        pytest.param(b"13519807,0,23.0,15373518,15373518,1570752011620,True,True", id="zero-price"),
        pytest.param(b"13519807,0.0014,23.0,15373518,15373518,1570752011620,Yes,True", id="bad-bool"),
        pytest.param(b"13519807,0.0014,23.0,15373518,15373518", id="short"),
        pytest.param(b"13519807,0.0014,23.0,15373520,15373518,1570752011620,True", id="last-before-first"),
        pytest.param(b"13519807,0.0014,23.0,1.0,1570752011620,True", id="other-layout"),
        pytest.param(b"\xff\xfe\x00,\x81", id="non-utf8"),
        pytest.param(b"id,price,qty", id="unknown-header"),
        pytest.param(b'{"e":"trade"}', id="json"),
    ],
)
def test_bad_csv_rows_are_malformed(row: bytes) -> None:
    parser = CsvParser("XRPETH")
    assert parser.parse(AGG_HEADER) == Skipped("ignored_stream", "csv header")
    result = parser.parse(row)
    assert isinstance(result, Skipped), result
    assert (result.reason, bool(result.detail)) == ("malformed", True)
    assert isinstance(parser.parse(AGG_ROW), Trade)  # one bad row does not spoil the next


def test_csv_without_symbol_is_malformed() -> None:
    result = CsvParser("").parse(AGG_ROW)
    assert isinstance(result, Skipped)
    assert result.reason == "malformed"
    assert "symbol" in result.detail
