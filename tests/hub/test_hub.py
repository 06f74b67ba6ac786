"""The hub without sockets: streams and their numbers, fan-out to exact and wildcard
subscribers, history, snapshots and resumes, and the upkeep (slow, silent, idle clients)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from cryptoviz.config import HubConfig
from cryptoviz.hub.client import Client
from cryptoviz.hub.hub import Hub
from cryptoviz.models import Candle, IndicatorPoint, NewsItem, Trade
from tests.hub.held import HeldSend, taken


def hub(**config: Any) -> Hub:
    return Hub(HubConfig(**config))


def client(h: Hub) -> Client:
    c = h.connect(HeldSend())
    assert c is not None
    return c


def ask(h: Hub, c: Client, **message: Any) -> None:
    h.receive(c, json.dumps(message))


def t(symbol: str, trade_id: int) -> Trade:
    return Trade("x", symbol, trade_id, Decimal("1.5"), Decimal("2"), 1_722_000_000_000, False)


def k(symbol: str, interval: str, open_time: int, close: str) -> Candle:
    d = Decimal(close)
    return Candle(symbol, interval, open_time, d, d, d, d, Decimal(1), 1, d, Decimal(0), False, 1)


def point(symbol: str, interval: str, kind: str) -> IndicatorPoint:
    return IndicatorPoint(symbol, interval, kind, 1_722_000_000_000, 50.0)


def item(item_id: str, symbols: list[str]) -> NewsItem:
    return NewsItem(item_id, "t", "https://e/x", "e", 1_722_000_000_000, "s", symbols, 0.0)


async def test_each_stream_numbers_its_own_messages() -> None:
    h = hub()
    c = client(h)
    for m in (
        {"type": "trades", "symbol": "*"}, {"type": "candles", "symbol": "*", "timeframe": "1m"},
        {"type": "candles", "symbol": "*", "timeframe": "1s"}, {"type": "indicators", "symbol": "AAA"},
        {"type": "news", "symbol": "*"},
    ):  # fmt: skip
        ask(h, c, action="subscribe", **m)
    taken(c)
    h.publish_trades([t("AAA", 1), t("BBB", 1), t("AAA", 2)])
    h.publish_candles([k("AAA", "1m", 0, "1"), k("AAA", "1s", 0, "1"), k("AAA", "1m", 0, "2")])
    h.publish_indicators([point("AAA", "1m", "rsi"), point("AAA", "1m", "macd"), point("AAA", "1s", "rsi")])
    h.publish_news([item("n1", []), item("n2", ["AAA"])])
    got = [(m["type"], m["data"].get("symbol"), m["data"].get("timeframe"), m["seq"]) for m in taken(c)]
    assert got == [
        ("trade", "AAA", None, 1), ("trade", "BBB", None, 1), ("trade", "AAA", None, 2),
        ("candle", "AAA", "1m", 1), ("candle", "AAA", "1s", 1), ("candle", "AAA", "1m", 2),
        ("indicator", "AAA", "1m", 1), ("indicator", "AAA", "1m", 2),  # 1s indicators: not subscribed
        ("news", None, None, 1), ("news", None, None, 2),
    ]  # fmt: skip


async def test_fanout_reaches_exact_and_wildcard_subscribers_once_and_nobody_else() -> None:
    h = hub()
    exact, wild, both, other = client(h), client(h), client(h), client(h)
    ask(h, exact, action="subscribe", type="trades", symbol="AAA")
    ask(h, wild, action="subscribe", type="trades", symbol="*")
    ask(h, both, action="subscribe", type="trades", symbol="AAA")
    ask(h, both, action="subscribe", type="trades", symbol="*")
    ask(h, other, action="subscribe", type="trades", symbol="CCC")
    for c in (exact, wild, both, other):
        taken(c)
    h.publish_trades([t("AAA", 1), t("BBB", 1)])
    assert [m["data"]["symbol"] for m in taken(exact)] == ["AAA"]
    assert [m["data"]["symbol"] for m in taken(wild)] == ["AAA", "BBB"]
    assert [m["data"]["symbol"] for m in taken(both)] == ["AAA", "BBB"]
    assert taken(other) == []


async def test_one_message_is_encoded_once_for_all_its_recipients() -> None:
    h = hub()
    clients = [client(h) for _ in range(3)]
    for c in clients:
        ask(h, c, action="subscribe", type="trades", symbol="AAA")
        c.send.release()  # the `subscribed` reply went out
    h.publish_trades([t("AAA", 1)])
    events = [c.send.events[-1] for c in clients]
    assert events[0]["text"].startswith('{"type":"trade"')
    assert events[0] is events[1] is events[2]


async def test_news_goes_to_its_symbols_and_to_the_wildcard() -> None:
    h = hub()
    a, ab, everything = client(h), client(h), client(h)
    ask(h, a, action="subscribe", type="news", symbol="AAA")
    ask(h, ab, action="subscribe", type="news", symbol="AAA")
    ask(h, ab, action="subscribe", type="news", symbol="BBB")
    ask(h, everything, action="subscribe", type="news", symbol="*")
    for c in (a, ab, everything):
        taken(c)
    h.publish_news([item("1", ["AAA", "BBB"]), item("2", ["BBB"]), item("3", [])])
    assert [m["data"]["id"] for m in taken(a)] == ["1"]
    assert [m["data"]["id"] for m in taken(ab)] == ["1", "2"]
    assert [m["data"]["id"] for m in taken(everything)] == ["1", "2", "3"]


async def test_nobody_watching_means_no_encoding_until_a_resume_needs_it() -> None:
    h = hub(history=3)
    h.publish_trades([t("AAA", i) for i in range(1, 6)])
    stream = next(iter(h.streams.values()))
    assert [f.seq for f in stream.history] == [3, 4, 5]
    assert all(f.event is None for f in stream.history)
    c = client(h)
    ask(h, c, action="subscribe", type="trades", symbol="AAA", since_seq=3)
    got = taken(c)
    assert [m["type"] for m in got] == ["subscribed", "trade", "trade"]
    assert [m["data"]["trade_id"] for m in got[1:]] == [4, 5]
    assert h.stats.broadcast == 0  # nothing was fanned out live


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (5, []),
        (4, [("trade", 5)]),
        (2, [("trade", 3), ("trade", 4), ("trade", 5)]),
        (1, [("reset", 3)]),
        (6, [("reset", 3)]),
    ],
)
async def test_resume_sends_what_was_missed_or_a_reset(since: int, expected: list[tuple[str, int]]) -> None:
    h = hub(history=3)
    h.publish_trades([t("AAA", i) for i in range(1, 6)])
    c = client(h)
    ask(h, c, action="subscribe", type="trades", symbol="AAA", since_seq=since)
    got = taken(c)[1:]
    summary = [
        (m["type"], m["data"]["trade_id"] if m["type"] == "trade" else m["data"]["oldest_seq"]) for m in got
    ]
    assert summary == expected
    if expected and expected[0][0] == "reset":
        assert got[0]["data"]["last_seq"] == 5


async def test_resume_of_an_unknown_stream_and_without_history() -> None:
    h = hub(history=0)
    c = client(h)
    ask(h, c, action="subscribe", type="trades", symbol="NEW", since_seq=0)
    assert [m["type"] for m in taken(c)] == ["subscribed"]  # 0 is where a new stream starts
    ask(h, c, action="subscribe", type="candles", symbol="NEW", since_seq=3)
    reset = taken(c)[1]
    assert reset["type"] == "reset"
    assert reset["data"] == {
        "type": "candles",
        "symbol": "NEW",
        "timeframe": "1m",
        "oldest_seq": None,
        "last_seq": 0,
    }


async def test_candles_subscription_gets_the_current_candle_of_each_symbol_covered() -> None:
    h = hub()
    h.publish_candles([k("AAA", "1m", 0, "1"), k("AAA", "1m", 60_000, "2"), k("BBB", "1m", 0, "3")])
    h.publish_candles([k("AAA", "1h", 0, "4")])
    one, every = client(h), client(h)
    ask(h, one, action="subscribe", type="candles", symbol="AAA", timeframe="1m")
    ask(h, every, action="subscribe", type="candles", symbol="*")
    got = taken(one)
    assert [(m["type"], m.get("seq")) for m in got] == [("subscribed", None), ("candle", 2)]
    assert got[1]["data"]["close"] == 2
    assert sorted((m["data"]["symbol"], m["data"]["close"]) for m in taken(every)[1:]) == [
        ("AAA", 2),
        ("BBB", 3),
    ]


async def test_subscription_cap_and_unsubscribe() -> None:
    h = hub(max_subscriptions=2)
    c = client(h)
    ask(h, c, action="subscribe", type="trades", symbol="AAA")
    ask(h, c, action="subscribe", type="news", symbol="AAA")
    ask(h, c, action="subscribe", type="trades", symbol="BBB")
    ask(h, c, action="unsubscribe", type="trades", symbol="AAA")
    ask(h, c, action="unsubscribe", type="trades", symbol="AAA")
    got = taken(c)
    assert [m["type"] for m in got] == ["subscribed", "subscribed", "error", "unsubscribed", "error"]
    assert [m["data"]["code"] for m in got if m["type"] == "error"] == [
        "too_many_subscriptions",
        "not_subscribed",
    ]
    assert ("trades", "AAA", None) not in h.subs


async def test_connections_are_capped() -> None:
    h = hub(max_connections=2)
    client(h)
    client(h)
    assert h.connect(HeldSend()) is None
    assert h.snapshot_stats()["rejected_connections"] == 1


async def test_upkeep_closes_a_client_whose_sends_stall_past_the_write_timeout() -> None:
    h = hub(write_timeout_seconds=5)
    stuck, idle = client(h), client(h)
    for c in (stuck, idle):
        ask(h, c, action="subscribe", type="trades", symbol="AAA")
    h.tick()  # both busy (their reply in flight): progress marked now
    idle.send.release()  # the reply went out; nothing else to send: not busy
    stuck.mark_at -= 6
    idle.mark_at -= 6
    h.tick()
    assert stuck.close_code == 1008
    assert idle.close_code == 0
    assert stuck.id not in h.clients
    assert all(stuck not in subscribers for subscribers in h.subs.values())
    stats = h.snapshot_stats()
    assert (stats["slow_clients_closed"], stats["active_connections"]) == (1, 1)
    assert stuck.closer is not None
    stuck.send.release()  # the send in flight completes: the close frame follows
    await asyncio.wait_for(stuck.closer, 5)
    assert stuck.send.events[-1] == {
        "type": "websocket.close",
        "code": 1008,
        "reason": "nothing taken for 5s",
    }


async def test_upkeep_closes_a_client_that_stays_full_and_forgives_one_that_drained() -> None:
    h = hub(write_timeout_seconds=5, send_buffer=8)
    full, drained = client(h), client(h)
    for c in (full, drained):
        ask(h, c, action="subscribe", type="trades", symbol="AAA")
    h.publish_trades([t("AAA", i) for i in range(1, 12)])
    assert full.full_since is not None
    assert drained.full_since is not None
    taken(drained)
    for c in (full, drained):
        c.full_since -= 6
        c.sent += 1  # both make some progress: only fullness counts here
    h.tick()
    assert full.close_code == 1008
    assert (drained.close_code, drained.full_since) == (0, None)


async def test_upkeep_times_out_silent_connections_without_subscriptions_only() -> None:
    h = hub(read_timeout_seconds=60)
    silent, subscribed = client(h), client(h)
    ask(h, subscribed, action="subscribe", type="news", symbol="*")
    for c in (silent, subscribed):
        c.last_receive -= 61
    h.tick()
    assert silent.close_code == 1008
    assert subscribed.close_code == 0
    assert h.snapshot_stats()["read_timeouts"] == 1


async def test_upkeep_pings_clients_nothing_was_sent_to_for_the_interval() -> None:
    h = hub(ping_interval_seconds=30)
    quiet, busy = client(h), client(h)
    for c in (quiet, busy):
        c.ping_at -= 31
    busy.sent += 1
    h.tick()
    assert [m["type"] for m in taken(quiet)] == ["ping"]
    assert taken(busy) == []
    h.tick()
    assert taken(quiet) == []  # the next one is an interval away


async def test_close_all_closes_every_client_and_refuses_new_ones() -> None:
    h = hub()
    clients = [client(h) for _ in range(3)]
    await h.close_all(1001, "shutting down", 5)
    assert [c.send.events for c in clients] == [
        [{"type": "websocket.close", "code": 1001, "reason": "shutting down"}]
    ] * 3
    assert all(c.closer is not None and c.closer.done() for c in clients)
    assert h.connect(HeldSend()) is None
