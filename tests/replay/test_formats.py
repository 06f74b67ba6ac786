"""Line parsers: exact decimals, every accepted shape, and bad lines that never raise."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoviz.models import Trade
from cryptoviz.replay.formats import (
    CsvParser,
    Skipped,
    epoch_to_ms,
    parse_json_block,
    parse_json_line,
    symbol_from_filename,
)

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
RAW_TRADE = (
    b'{"e":"trade","E":1617566591315,"T":1617566591314,"s":"ethbtc","t":7,"p":"0.05","q":"1.5","m":true}'
)


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
        1617566591314,
        1617566591315,
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


# Values the pipeline cannot take (SQLite's signed 64-bit INTEGER; the aggregator's exact
# price x quantity) are malformed lines, never exceptions.
BIG = 2**63
DIGITS_31 = "1234567890123456789012345.678901"
OUT_OF_RANGE = [
    pytest.param("t", b"-1", id="negative-id"),
    pytest.param("t", str(BIG).encode(), id="id-2**63"),
    pytest.param("t", b"1" * 40, id="huge-id"),
    pytest.param("T", b"-1617566591314", id="negative-T"),
    pytest.param("T", str(BIG).encode(), id="T-2**63"),
    pytest.param("E", b"-1", id="negative-E"),
    pytest.param("E", str(BIG).encode(), id="E-2**63"),
    pytest.param("T", b"946684799999", id="T-before-2000"),
    pytest.param("T", b"4102444800000", id="T-2100"),
    pytest.param("T", b"4102444800", id="T-2100-seconds"),
    pytest.param("T", b"1", id="T-tiny"),
    pytest.param("T", b"0", id="T-zero"),
    pytest.param("p", f'"{DIGITS_31}"'.encode(), id="price-31-digits"),
    pytest.param("q", b'"1.0000000000000000000000000000000"', id="quantity-31-digits-trailing-zeros"),
    pytest.param("p", b'"1E+31"', id="price-exponent-31"),
    pytest.param("p", b'"1E-31"', id="price-exponent-minus-31"),
    pytest.param("q", b'"1E+400"', id="quantity-huge"),
    pytest.param("q", b'"0E-31"', id="zero-quantity-exponent"),
    pytest.param("q", b'"' + b"9" * 5000 + b'"', id="quantity-5000-digits"),
    pytest.param("p", b'"-Infinity"', id="price-minus-infinity"),
    pytest.param("q", b'"sNaN"', id="quantity-snan"),
]


def _with(template: bytes, key: str, value: bytes) -> bytes:
    line, n = re.subn(rb'"%s":("[^"]*"|-?\d+)' % key.encode(), b'"%s":%s' % (key.encode(), value), template)
    assert n == 1, (template, key)
    return line


@pytest.mark.parametrize(("key", "value"), OUT_OF_RANGE)
@pytest.mark.parametrize("template", [USDM_TRADE, SPOT_AGG], ids=["trade", "aggTrade"])
def test_out_of_range_values_are_malformed(template: bytes, key: str, value: bytes) -> None:
    if key == "t" and template is SPOT_AGG:
        key = "a"
    result = parse_json_line(_with(template, key, value))
    assert isinstance(result, Skipped), result
    assert result.reason == "malformed"
    assert result.detail
    assert len(result.detail) < 200


@pytest.mark.parametrize(
    ("first", "last"),
    [
        pytest.param(b"-1", b"5", id="negative-first"),
        pytest.param(b"5", str(BIG).encode(), id="last-2**63"),
        pytest.param(b"0", str(BIG - 1).encode(), id="count-2**63"),
    ],
)
def test_aggtrade_id_range_out_of_range(first: bytes, last: bytes) -> None:
    line = _with(_with(SPOT_AGG, "f", first), "l", last)
    result = parse_json_line(line)
    assert isinstance(result, Skipped), result
    assert result.reason == "malformed"


@pytest.mark.parametrize(
    ("key", "value", "field", "expected"),
    [
        pytest.param("T", b"1617566591314999", "time", 1617566591314, id="T-microseconds"),
        pytest.param("T", b"1617566591314999999", "time", 1617566591314, id="T-nanoseconds"),
        pytest.param("T", b"1617566591", "time", 1617566591000, id="T-seconds"),
        pytest.param("E", b"1617566591315999", "event_time", 1617566591315, id="E-microseconds"),
        pytest.param("E", b"0", "event_time", 0, id="E-unknown"),
        pytest.param("T", b"946684800000", "time", 946684800000, id="T-2000"),
        pytest.param("T", b"4102444799999", "time", 4102444799999, id="T-last-ms-of-2099"),
        pytest.param("t", str(BIG - 1).encode(), "trade_id", BIG - 1, id="id-max"),
        pytest.param("p", b'"123456789012345678901234.567890"', "price", None, id="price-30-digits"),
        pytest.param("q", b'"1.00000000000000000000000000000"', "quantity", None, id="quantity-30-digits"),
        pytest.param("p", b'"9.99E+30"', "price", None, id="price-exponent-30"),
        pytest.param("p", b'"1E-30"', "price", None, id="price-exponent-minus-30"),
        pytest.param("q", b'"0"', "quantity", None, id="zero-quantity"),
        pytest.param("q", b"0.5", "quantity", None, id="quantity-as-number"),
    ],
)
def test_boundary_values_are_accepted(key: str, value: bytes, field: str, expected: object) -> None:
    trade = _trade(_with(USDM_TRADE, key, value))
    if expected is None:
        expected = Decimal(value.strip(b'"').decode())
        assert str(getattr(trade, field)) == str(expected)  # exact, scale included
    assert getattr(trade, field) == expected


def test_out_of_range_detail_is_clear() -> None:
    result = parse_json_line(_with(USDM_TRADE, "p", f'"{DIGITS_31}"'.encode()))
    assert result == Skipped("malformed", f"price has 31 significant digits (at most 30): {DIGITS_31}")
    result = parse_json_line(_with(USDM_TRADE, "T", b"1"))
    assert isinstance(result, Skipped)
    assert "trade time 1 " in result.detail
    assert "2000-01-01" in result.detail


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param(b"1" * 40 + b".5: ", id="decimal-too-long"),
        pytest.param(b"1" * 5000 + b": ", id="thousands-of-digits"),
        pytest.param(b"1" * 40 + b" ", id="int-2**63-and-up"),
    ],
)
def test_out_of_range_receive_time_is_malformed(prefix: bytes) -> None:
    result = parse_json_line(prefix + USDM_TRADE_JSON)
    assert isinstance(result, Skipped), result
    assert result.reason == "malformed"


CSV_OUT_OF_RANGE = [
    pytest.param(b"%d,0.0014,23.0,1,1,1570752011620,True" % BIG, id="id-2**63"),
    pytest.param(b"1" * 5000 + b",0.0014,23.0,1,1,1570752011620,True", id="id-5000-digits"),
    pytest.param(b"1,0.0014,23.0,1,%d,1570752011620,True" % BIG, id="last-2**63"),
    pytest.param(b"1,0.0014,23.0,0,%d,1570752011620,True" % (BIG - 1), id="count-2**63"),
    pytest.param(b"1,0.0014,23.0,1,1," + b"9" * 5000 + b",True", id="time-5000-digits"),
    pytest.param(b"1,0.0014,23.0,1,1,%d,True" % BIG, id="time-2**63"),
    pytest.param(b"1,0.0014,23.0,1,1,946684799999,True", id="time-before-2000"),
    pytest.param(b"1,0.0014,23.0,1,1,4102444800000000,True", id="time-2100-microseconds"),
    pytest.param(b"1,0.0014,23.0,1,1,12,True", id="time-tiny"),
    pytest.param(b"1,%s,23.0,1,1,1570752011620,True" % DIGITS_31.encode(), id="price-31-digits"),
    pytest.param(
        b"1,0.0014,1.000000000000000000000000000000,1,1,1570752011620,True", id="quantity-31-digits"
    ),
    pytest.param(b"1,1" + b"0" * 31 + b",23.0,1,1,1570752011620,True", id="price-exponent-31"),
    pytest.param(b"1,0.0000000000000000000000000000001,23.0,1,1,1570752011620,True", id="price-exp-minus-31"),
]


@pytest.mark.parametrize("row", CSV_OUT_OF_RANGE)
def test_out_of_range_csv_rows_are_malformed(row: bytes) -> None:
    parser = CsvParser("XRPETH")
    result = parser.parse(row)
    assert isinstance(result, Skipped), result
    assert (result.reason, bool(result.detail)) == ("malformed", True)
    assert len(result.detail) < 200


def test_out_of_range_csv_trades_rows_are_malformed() -> None:
    parser = CsvParser("BTCUSDT")
    assert parser.parse(b"id,price,qty,quote_qty,time,is_buyer_maker") == Skipped(
        "ignored_stream", "csv header"
    )
    for row in [
        b"%d,4036.08,0.000546,2.2,1502942432285,false" % BIG,
        b"1,4036.08,0.000546,2.2,%d,false" % BIG,
        b"1,4036.08,0.000546,2.2,999,false",
        b"1,%s,0.000546,2.2,1502942432285,false" % DIGITS_31.encode(),
    ]:
        result = parser.parse(row)
        assert isinstance(result, Skipped), (row, result)
        assert result.reason == "malformed"


@pytest.mark.parametrize(
    ("row", "trade"),
    [
        pytest.param(
            b"%d,123456789012345678901234.567890,1.00000000000000000000000000000,0,0,946684800000,true"
            % (BIG - 1),
            Trade(
                "binance",
                "XRPETH",
                BIG - 1,
                Decimal("123456789012345678901234.567890"),
                Decimal("1.00000000000000000000000000000"),
                946684800000,
                True,
            ),
            id="30-digits-max-id-2000",
        ),
        pytest.param(
            b"7,0.000000000000000000000000000001,0,5,5,4102444799999999,false",
            Trade("binance", "XRPETH", 7, Decimal("1E-30"), Decimal("0"), 4102444799999, False),
            id="exponent-minus-30-zero-quantity-last-us-of-2099",
        ),
        pytest.param(
            b"00000000000000000000007,0.5,2,1,1,1570752011620,false",
            Trade("binance", "XRPETH", 7, Decimal("0.5"), Decimal("2"), 1570752011620, False),
            id="zero-padded-id",
        ),
    ],
)
def test_csv_boundary_rows_are_accepted(row: bytes, trade: Trade) -> None:
    result = CsvParser("XRPETH").parse(row)
    assert result == trade
    assert isinstance(result, Trade)
    assert (str(result.price), str(result.quantity)) == (str(trade.price), str(trade.quantity))


# --- the block parser against the line parser --------------------------------------------

_NAMES = st.sampled_from(
    [b"btcusdt@trade", b"btcusdt@aggTrade", b"btcusdt@bookTicker", b"btcusdt@depth@100ms", b"trade",
     b"aggTrade", b"btcusdt@", b"@trade", b"btc\xc3\xa9@bookTicker", b"btc@trade@x", b"btcusdt@tradeX", b""]
)  # fmt: skip
_BODIES = st.sampled_from(
    [USDM_TRADE_JSON[USDM_TRADE_JSON.index(b',"data"') :], SPOT_AGG[SPOT_AGG.index(b',"data"') :],
     BOOK_TICKER[BOOK_TICKER.index(b',"data"') :], b',"data":{}}', b',"data":{"a":1}}',
     b',"data":{"a":}}', b',"data":{"a":"\xff"}}']
)  # fmt: skip


@st.composite
def _lines(draw: st.DrawFn) -> bytes:
    prefix = draw(st.sampled_from([b"", b"1723161255088176367 ", b"x ", b"{ "]))
    line = prefix + b'{"stream":"' + draw(_NAMES) + b'"' + draw(_BODIES)
    cut = draw(st.integers(0, len(line)))
    return draw(st.sampled_from([line, line[:cut], line + b"\r", line + b" ", RAW_TRADE, BOOK_TICKER]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_lines(), max_size=30))
def test_the_block_parser_classifies_every_line_as_the_line_parser(lines: list[bytes]) -> None:
    expected_trades = []
    expected_skipped: dict[str, int] = {}
    for line in lines:
        item = parse_json_line(line)
        if isinstance(item, Trade):
            expected_trades.append(item)
        else:
            expected_skipped[item.reason] = expected_skipped.get(item.reason, 0) + 1
    skipped: dict[str, int] = {}
    assert parse_json_block(lines, "binance", skipped) == expected_trades
    assert skipped == expected_skipped
