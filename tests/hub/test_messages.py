"""The hub's documents: envelope, exact decimals, times, and each data shape."""

from __future__ import annotations

import json
from decimal import Decimal

from cryptoviz.api.schemas import CandleOut
from cryptoviz.codec import encode_json
from cryptoviz.hub.messages import CANDLE, INDICATOR, NEWS, TRADE, Encoder, Frame
from cryptoviz.models import Candle, IndicatorPoint, NewsItem, Trade


def decoded(frame: Frame) -> dict[str, object]:
    event = Encoder().encode(frame)
    assert event["type"] == "websocket.send"
    assert isinstance(event["text"], str)  # a text frame, for browsers' JSON.parse
    out: dict[str, object] = json.loads(event["text"], parse_float=Decimal)
    return out


def test_trade_document_with_exact_decimals_and_millisecond_time() -> None:
    t = Trade(
        "binance", "BTCUSDT", 42, Decimal("64000.10000000"), Decimal("0.00000001"), 1_722_000_000_000, True
    )
    message = decoded(Frame(TRADE, t, seq=7))
    assert list(message) == ["type", "data", "timestamp", "seq"]
    assert (message["type"], message["seq"]) == ("trade", 7)
    assert message["data"] == {
        "symbol": "BTCUSDT", "price": Decimal("64000.10000000"), "quantity": Decimal("1E-8"), "side": "sell",
        "time": "2024-07-26T13:20:00.000Z", "trade_id": 42,
    }  # fmt: skip


def test_trade_times_cache_the_second_but_not_the_milliseconds() -> None:
    encoder = Encoder()
    assert encoder.time_ms(1_722_000_000_999) == "2024-07-26T13:20:00.999Z"
    assert encoder.time_ms(1_722_000_001_000) == "2024-07-26T13:20:01.000Z"
    assert encoder.time_ms(1_722_000_000_005) == "2024-07-26T13:20:00.005Z"


def test_candle_document_is_the_rest_candle_plus_symbol_and_timeframe() -> None:
    d = Decimal
    c = Candle(
        "ETHUSDT",
        "15m",
        1_722_000_000_000,
        d("1"),
        d("2.5"),
        d("0.5"),
        d("2"),
        d("10"),
        4,
        d("20.25"),
        d("3"),
        True,
        9,
    )
    data = decoded(Frame(CANDLE, c, seq=1))["data"]
    rest = json.loads(encode_json(CandleOut.of(c)), parse_float=Decimal)
    assert data == {"symbol": "ETHUSDT", "timeframe": "15m", **rest}
    assert list(data)[:3] == ["symbol", "timeframe", "time"]  # type: ignore[call-overload]


def test_indicator_documents_keep_final_and_only_their_own_extra_fields() -> None:
    macd = IndicatorPoint("BTCUSDT", "1h", "macd", 1, 1.5, signal=1.0, histogram=0.5, final=False)
    rsi = IndicatorPoint("BTCUSDT", "1h", "rsi", 1, 70.0)
    common = {"symbol": "BTCUSDT", "timeframe": "1h", "ts": 1}
    assert decoded(Frame(INDICATOR, macd, seq=1))["data"] == {
        **common, "type": "macd", "value": Decimal("1.5"), "final": False,
        "signal": Decimal("1.0"), "histogram": Decimal("0.5"),
    }  # fmt: skip
    assert decoded(Frame(INDICATOR, rsi, seq=2))["data"] == {
        **common, "type": "rsi", "value": Decimal("70.0"), "final": True
    }  # fmt: skip


def test_news_document_has_an_rfc3339_publication_time() -> None:
    n = NewsItem("id1", "Title", "https://e.com/a", "e.com", 1_722_000_000_123, "sum", ["BTCUSDT"], -0.25)
    assert decoded(Frame(NEWS, n, seq=3))["data"] == {
        "id": "id1", "title": "Title", "url": "https://e.com/a", "source": "e.com",
        "published_at": "2024-07-26T13:20:00.123Z", "summary": "sum", "symbols": ["BTCUSDT"],
        "sentiment": Decimal("-0.25"),
    }  # fmt: skip


def test_a_frame_is_encoded_once() -> None:
    encoder = Encoder()
    frame = Frame(TRADE, Trade("x", "A1", 1, Decimal(1), Decimal(1), 0, False))
    assert encoder.encode(frame) is encoder.encode(frame)


def test_control_replies_have_no_seq() -> None:
    encoder = Encoder()
    for frame in (encoder.control("pong", None), encoder.error("invalid_json", "bad")):
        assert frame.event is not None
        assert "seq" not in json.loads(frame.event["text"])
