"""Binance wire formats: live frames, REST pages, URLs and subscription frames."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryptoviz.exchanges.binance import (
    MAX_STREAMS_PER_CONNECTION,
    PARAMS_PER_FRAME,
    Control,
    chunked,
    combined_url,
    decode_frame,
    stream_name,
    subscribe_frames,
)
from cryptoviz.exchanges.binance_pages import decode_page
from cryptoviz.models import Trade
from cryptoviz.replay.formats import parse_json_line

USDM_TRADE = (
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT",'
    b'"t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}'
)
SPOT_AGG = (
    b'{"stream":"dotusdt@aggTrade","data":{"e":"aggTrade","E":1617566591843,"s":"DOTUSDT","a":54605678,'
    b'"p":"43.53150000","q":"0.90000000","f":63392595,"l":63392597,"T":1617566591841,"m":true,"M":true}}'
)


def test_trade_frame_keeps_exchange_times_and_receive_time() -> None:
    trade = decode_frame(USDM_TRADE, received_at=1723161256400)
    assert trade == Trade(
        "binance", "BTCUSDT", 5266583935, Decimal("61800.30"), Decimal("0.006"),
        1723161256322, False, 1, 1723161256322, 1723161256400,
    )  # fmt: skip
    assert str(trade.price) == "61800.30"  # the exchange's text, exactly


def test_aggtrade_frame_counts_raw_trades() -> None:
    trade = decode_frame(SPOT_AGG, received_at=5, exchange="binanceus")
    assert isinstance(trade, Trade)
    assert (trade.exchange, trade.symbol, trade.trade_id) == ("binanceus", "DOTUSDT", 54605678)
    assert trade.count == 3
    assert (trade.time, trade.event_time, trade.received_at) == (1617566591841, 1617566591843, 5)


def _recorded_trade_lines(testdata: Path) -> list[bytes]:
    lines: list[bytes] = []
    with gzip.open(testdata / "binance" / "usdm-btcusdt-20240808.recv.gz", "rb") as usdm:
        lines += [line[line.index(b"{") :].rstrip() for line in usdm if b'@trade"' in line]
    with (testdata / "binance" / "spot-BTC-ETH-DOT-2021-04-04.jsonl").open("rb") as spot:
        lines += [line.rstrip() for line in spot if b'@aggTrade"' in line]
    return lines


def test_every_recorded_trade_decodes_as_the_replay_parser_does(testdata: Path) -> None:
    lines = _recorded_trade_lines(testdata)
    assert len(lines) == 21_313 + 1_910
    for line in lines:
        live = decode_frame(line, received_at=42)
        replayed = parse_json_line(line)
        assert isinstance(live, Trade), live
        assert live == msgspec.structs.replace(replayed, received_at=42)


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (b'{"result":null,"id":1}', "reply"),
        (b'{"result":null,"id":"abc"}', "reply"),
        (b'{"error":{"code":2,"msg":"Invalid request: unknown variant"},"id":3}', "error"),
        (b'{"code":2,"msg":"Invalid request: request ID must be an unsigned integer"}', "error"),
        (b'{"e":"serverShutdown","E":1770123456789}', "shutdown"),
        (b'{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}', "shutdown"),
        (b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"b":[],"a":[]}}', "ignored"),
        (b'{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1","B":"1"}}', "ignored"),
        (b'{"e":"kline","E":1}', "ignored"),
        (USDM_TRADE[:-9], "malformed"),  # truncated
        (USDM_TRADE.replace(b'"61800.30"', b'"0"'), "malformed"),  # zero price
        (USDM_TRADE.replace(b'"T":1723161256322', b'"T":-1'), "malformed"),
        (SPOT_AGG.replace(b'"f":63392595', b'"f":63392598'), "malformed"),  # first id after last
        (b"not json", "malformed"),
        (b"[1,2]", "malformed"),
        (b"{}", "malformed"),
        (b"\xff\xfe", "malformed"),
    ],
)
def test_control_frames(frame: bytes, kind: str) -> None:
    result = decode_frame(frame, received_at=0)
    assert isinstance(result, Control)
    assert result.kind == kind, result


def test_a_trade_frame_laid_out_differently_is_still_a_trade() -> None:
    spaced = json.dumps(json.loads(USDM_TRADE), indent=1).encode()
    assert decode_frame(spaced, received_at=3) == decode_frame(USDM_TRADE, received_at=3)
    reordered = b'{"data":' + USDM_TRADE[USDM_TRADE.index(b'{"e"') : -1] + b',"stream":"btcusdt@trade"}'
    assert decode_frame(reordered, received_at=3) == decode_frame(USDM_TRADE, received_at=3)
    bad = json.dumps({"stream": "btcusdt@trade", "data": {"e": "trade", "p": "x"}}).encode()
    assert decode_frame(bad, received_at=0).kind == "malformed"  # type: ignore[union-attr]


def test_error_reply_says_what_was_refused() -> None:
    result = decode_frame(b'{"error":{"code":2,"msg":"Invalid request"},"id":7}', received_at=0)
    assert result == Control("error", '{"code":2,"msg":"Invalid request"} (request id 7)')


@given(st.binary(max_size=300))
def test_frames_never_raise(frame: bytes) -> None:
    assert isinstance(decode_frame(frame, received_at=0), Trade | Control)


@given(st.binary(max_size=200))
def test_frames_with_a_trade_stream_prefix_never_raise(tail: bytes) -> None:
    result = decode_frame(b'{"stream":"btcusdt@trade","data":' + tail, received_at=0)
    assert isinstance(result, Trade | Control)


HISTORICAL_PAGE = json.dumps(
    [
        {"id": 28457, "price": "4.00000100", "qty": "12.00000000", "quoteQty": "48.000012",
         "time": 1499865549590, "isBuyerMaker": True, "isBestMatch": True},
        {"id": 28458, "price": "4.00000200", "qty": "1.00000000", "quoteQty": "4.000002",
         "time": 1499865549591, "isBuyerMaker": False, "isBestMatch": True},
    ]
).encode()  # fmt: skip
AGG_PAGE = json.dumps(
    [{"a": 26129, "p": "0.01633102", "q": "4.70443515", "f": 27781, "l": 27783, "T": 1498793709153,
      "m": True, "M": True}]
).encode()  # fmt: skip


def test_historical_trades_page() -> None:
    page = decode_page(HISTORICAL_PAGE, "trade", "BNBBTC", received_at=9)
    assert (page.last_id, page.records, page.malformed) == (28458, 2, [])
    assert page.trades == [
        Trade("binance", "BNBBTC", 28457, Decimal("4.00000100"), Decimal("12.00000000"), 1499865549590, True,
              1, 0, 9),
        Trade("binance", "BNBBTC", 28458, Decimal("4.00000200"), Decimal("1.00000000"), 1499865549591, False,
              1, 0, 9),
    ]  # fmt: skip


def test_agg_trades_page() -> None:
    page = decode_page(AGG_PAGE, "aggTrade", "BNBBTC", received_at=9, exchange="binanceus")
    assert page.trades == [
        Trade("binanceus", "BNBBTC", 26129, Decimal("0.01633102"), Decimal("4.70443515"), 1498793709153, True,
              3, 0, 9)
    ]  # fmt: skip


def test_a_bad_record_is_skipped_and_paging_moves_past_it() -> None:
    records = json.loads(HISTORICAL_PAGE)
    records[0]["price"] = "-1"
    records.append({"id": 28459, "price": "abc"})
    page = decode_page(json.dumps(records).encode(), "trade", "BNBBTC", received_at=0)
    assert [t.trade_id for t in page.trades] == [28458]
    assert page.last_id == 28459
    assert page.records == 3
    assert len(page.malformed) == 2
    assert "id 28457" in page.malformed[0]


def test_empty_page() -> None:
    page = decode_page(b"[]", "aggTrade", "BNBBTC", received_at=0)
    assert (page.trades, page.last_id, page.records) == ([], None, 0)


@pytest.mark.parametrize("body", [b"", b"<html>bad gateway</html>", b'{"code":-1121,"msg":"Invalid"}'])
def test_a_body_that_is_no_list_raises_value_error(body: bytes) -> None:
    with pytest.raises(ValueError, match="not a JSON list"):
        decode_page(body, "trade", "BNBBTC", received_at=0)


def test_urls_and_stream_names() -> None:
    assert stream_name("BTCUSDT", "trade") == "btcusdt@trade"
    assert stream_name("ETHUSDT", "aggTrade") == "ethusdt@aggTrade"
    streams = ["btcusdt@trade", "ethusdt@trade"]
    assert (
        combined_url("wss://stream.binance.com:9443", streams)
        == "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade"
    )
    assert combined_url("ws://127.0.0.1:9000/", []) == "ws://127.0.0.1:9000/stream"


def test_streams_are_chunked_per_connection() -> None:
    streams = [f"s{i}usdt@trade" for i in range(2 * MAX_STREAMS_PER_CONNECTION + 1)]
    groups = chunked(streams, MAX_STREAMS_PER_CONNECTION)
    assert [len(g) for g in groups] == [1024, 1024, 1]
    assert [s for g in groups for s in g] == streams
    with pytest.raises(ValueError, match="at least 1"):
        chunked(streams, 0)


def test_subscribe_frames() -> None:
    streams = [f"s{i}usdt@aggTrade" for i in range(PARAMS_PER_FRAME + 5)]
    frames = [json.loads(f) for f in subscribe_frames(streams, first_id=10)]
    assert frames == [
        {"method": "SUBSCRIBE", "params": streams[:PARAMS_PER_FRAME], "id": 10},
        {"method": "SUBSCRIBE", "params": streams[PARAMS_PER_FRAME:], "id": 11},
    ]
