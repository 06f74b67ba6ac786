"""Client message parsing: accepted forms, normalisation, and one error code per fault."""

from __future__ import annotations

import pytest

from cryptoviz.hub.protocol import Command, ProtocolError, SubKey, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"action": "ping"}', Command("ping")),
        ('{"action": "list_subscriptions", "type": "ignored"}', Command("list_subscriptions")),
        (
            '{"action": "subscribe", "type": "candles", "symbol": "btcusdt"}',
            Command("subscribe", SubKey("candles", "BTCUSDT", "1m")),
        ),
        (
            '{"action": "subscribe", "type": "indicators", "symbol": "*", "timeframe": "4h"}',
            Command("subscribe", SubKey("indicators", "*", "4h")),
        ),
        (
            '{"action": "subscribe", "type": "trades", "symbol": "ETHUSDT", "timeframe": "junk", "id": 7}',
            Command("subscribe", SubKey("trades", "ETHUSDT", None)),
        ),
        (
            '{"action": "subscribe", "type": "trades", "symbol": "ETHUSDT", "since_seq": 0}',
            Command("subscribe", SubKey("trades", "ETHUSDT", None), 0),
        ),
        (
            '{"action": "subscribe", "type": "news", "symbol": "*", "since_seq": 12}',
            Command("subscribe", SubKey("news", "*", None), 12),
        ),
        (
            '{"action":"unsubscribe","type":"candles","symbol":"ETHUSDT","timeframe":"1d","since_seq":3}',
            Command("unsubscribe", SubKey("candles", "ETHUSDT", "1d")),
        ),
        (b'{"action": "ping"}', Command("ping")),
    ],
)
def test_accepted_messages(text: str | bytes, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "invalid_json"),
        ("{", "invalid_json"),
        ("subscribe", "invalid_json"),
        ('{"action": "ping"} trailing', "invalid_json"),
        ("null", "invalid_message"),
        ('"ping"', "invalid_message"),
        ("{}", "invalid_message"),
        ('{"action": null}', "invalid_message"),
        ('{"action": "subscribe", "type": 3}', "invalid_message"),
        (
            '{"action": "subscribe", "type": "trades", "symbol": "BTCUSDT", "since_seq": 1.5}',
            "invalid_message",
        ),
        (
            '{"action": "subscribe", "type": "trades", "symbol": "BTCUSDT", "since_seq": true}',
            "invalid_message",
        ),
        ('{"action": "PING"}', "unknown_action"),
        ('{"action": "subscribe", "symbol": "BTCUSDT"}', "unknown_type"),
        ('{"action": "subscribe", "type": "Trades", "symbol": "BTCUSDT"}', "unknown_type"),
        ('{"action": "subscribe", "type": "trades"}', "invalid_symbol"),
        ('{"action": "subscribe", "type": "trades", "symbol": "**"}', "invalid_symbol"),
        ('{"action": "subscribe", "type": "trades", "symbol": "BTCUSDT_PERP"}', "invalid_symbol"),
        ('{"action": "subscribe", "type": "trades", "symbol": "BTCUSDTBTCUSDTBTCUSDT"}', "invalid_symbol"),
        (
            '{"action": "subscribe", "type": "trades", "symbol": "\uff22\uff34\uff23"}',
            "invalid_symbol",
        ),  # full-width
        (
            '{"action": "subscribe", "type": "candles", "symbol": "BTCUSDT", "timeframe": "1M"}',
            "invalid_timeframe",
        ),
        ('{"action": "subscribe", "type": "candles", "symbol": "*", "since_seq": 4}', "invalid_since_seq"),
    ],
)
def test_each_fault_has_its_code(text: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse(text)
    assert caught.value.code == code
    assert caught.value.message


def test_error_messages_do_not_echo_long_input() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse('{"action": "' + "a" * 400 + '"}')
    assert len(caught.value.message) < 150
