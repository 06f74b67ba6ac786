"""/ws/crypto against the real server (granian) with real `websockets` clients: every action,
the wildcard, unsubscribe, every error path, the size limit, stats, timeouts and shutdown."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.hub.server import (
    STOP_DEADLINE_S,
    HubServer,
    candle,
    closed_code,
    connect,
    news,
    recv,
    recv_until,
    request,
    running_server,
    trade,
)

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
MAX_SUBSCRIPTIONS = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, frontend: bool) -> Iterator[HubServer]:
    with running_server(
        tmp_path_factory.mktemp("endpoint"), frontend=frontend, MAX_SUBSCRIPTIONS=str(MAX_SUBSCRIPTIONS)
    ) as srv:
        yield srv


def sub(kind: str, symbol: str, timeframe: str | None = None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"action": "subscribe", "type": kind, "symbol": symbol, **extra}
    if timeframe is not None:
        message["timeframe"] = timeframe
    return message


def unsub(kind: str, symbol: str, timeframe: str | None = None) -> dict[str, Any]:
    return {**sub(kind, symbol, timeframe), "action": "unsubscribe"}


def assert_envelope(message: dict[str, Any], kind: str) -> None:
    assert message["type"] == kind, message
    assert isinstance(message["timestamp"], int)
    assert message["timestamp"] > 1_600_000_000_000


async def assert_open(ws: websockets.ClientConnection) -> None:
    """The connection still answers: a ping gets the very next message, a pong."""
    assert_envelope(await request(ws, {"action": "ping"}), "pong")


async def test_ping_answers_pong(server: HubServer) -> None:
    async with await connect(server) as ws:
        reply = await request(ws, {"action": "ping"})
        assert set(reply) == {"type", "data", "timestamp"}
        assert_envelope(reply, "pong")
        assert reply["data"] is None


async def test_subscribe_list_and_unsubscribe_echo_each_subscription(server: HubServer) -> None:
    async with await connect(server) as ws:
        echoes = [
            (sub("trades", "btcusdt"), {"type": "trades", "symbol": "BTCUSDT", "timeframe": None}),
            (sub("candles", "ETHUSDT"), {"type": "candles", "symbol": "ETHUSDT", "timeframe": "1m"}),
            (sub("indicators", "*", "15m"), {"type": "indicators", "symbol": "*", "timeframe": "15m"}),
            (sub("news", "*", "1h"), {"type": "news", "symbol": "*", "timeframe": None}),
        ]
        for message, echo in echoes:
            reply = await request(ws, message)
            assert_envelope(reply, "subscribed")
            assert reply["data"] == echo
        listed = await request(ws, {"action": "list_subscriptions"})
        assert_envelope(listed, "subscriptions")
        assert listed["data"] == sorted((e for _, e in echoes), key=lambda e: (e["type"], e["symbol"]))
        reply = await request(ws, unsub("candles", "ETHUSDT", "1m"))
        assert_envelope(reply, "unsubscribed")
        assert reply["data"] == {"type": "candles", "symbol": "ETHUSDT", "timeframe": "1m"}
        listed = await request(ws, {"action": "list_subscriptions"})
        assert {e["type"] for e in listed["data"]} == {"trades", "indicators", "news"}


async def test_trades_flow_with_exact_fields_until_unsubscribed(server: HubServer) -> None:
    async with await connect(server) as ws, await connect(server) as witness:
        for client in (ws, witness):
            assert_envelope(await request(client, sub("trades", "FLOWUSDT")), "subscribed")
        await server.publish(
            "crypto.raw.trades", "trade", [trade("FLOWUSDT", i, price="64000.12345678") for i in (1, 2, 3)]
        )
        got = [await recv(ws) for _ in range(3)]
        for i, message in enumerate(got, start=1):
            assert set(message) == {"type", "data", "timestamp", "seq"}
            assert_envelope(message, "trade")
            assert message["seq"] == i
            data = message["data"]
            assert set(data) == {"symbol", "price", "quantity", "side", "time", "trade_id"}
            assert (data["symbol"], data["trade_id"]) == ("FLOWUSDT", i)
            assert data["price"] == Decimal("64000.12345678")
            assert data["quantity"] == Decimal("0.25")
            assert data["side"] == ("sell" if i % 2 else "buy")  # odd ids: the buyer was the maker
            assert RFC3339_MS.match(data["time"]), data["time"]
        assert got[0]["data"]["time"] == "2024-07-26T13:20:00.001Z"

        assert_envelope(await request(ws, unsub("trades", "FLOWUSDT")), "unsubscribed")
        await server.publish("crypto.raw.trades", "trade", [trade("FLOWUSDT", i) for i in (4, 5)])
        seen = await recv_until(witness, lambda m: m["type"] == "trade" and m["data"]["trade_id"] == 5)
        assert [m["data"]["trade_id"] for m in seen if m["type"] == "trade"][-2:] == [4, 5]
        await assert_open(ws)  # the pong comes first: trades 4 and 5 never reached this client


async def test_repeated_and_older_trade_ids_are_forwarded_once(server: HubServer) -> None:
    async with await connect(server) as ws:
        await request(ws, sub("trades", "DUPUSDT"))
        await server.publish("crypto.raw.trades", "trade", [trade("DUPUSDT", i) for i in (10, 11, 11, 9, 12)])
        await server.publish("crypto.raw.trades", "trade", [trade("DUPUSDT", i) for i in (12, 13)])
        await server.publish("crypto.raw.trades", "trade", [trade("DUPUSDT", 13, exchange="other")])
        seen = await recv_until(ws, lambda m: m["data"]["trade_id"] == 13 and m["seq"] == 5)
        assert [(m["data"]["trade_id"], m["seq"]) for m in seen] == [
            (10, 1),
            (11, 2),
            (12, 3),
            (13, 4),
            (13, 5),
        ]


async def test_wildcard_gets_every_symbol_once_even_with_an_exact_subscription_too(server: HubServer) -> None:
    async with await connect(server) as ws:
        await request(ws, sub("trades", "*"))
        await request(ws, sub("trades", "WILDAUSDT"))
        await server.publish("crypto.raw.trades", "trade", [trade("WILDAUSDT", 1), trade("WILDBUSDT", 1)])
        await server.publish("crypto.raw.trades", "trade", [trade("WILDAUSDT", 2)])
        seen = await recv_until(
            ws, lambda m: m["data"]["symbol"] == "WILDAUSDT" and m["data"]["trade_id"] == 2
        )
        mine = [
            (m["data"]["symbol"], m["data"]["trade_id"])
            for m in seen
            if m["data"]["symbol"].startswith("WILD")
        ]
        assert mine == [("WILDAUSDT", 1), ("WILDBUSDT", 1), ("WILDAUSDT", 2)]


async def test_candles_subscription_gets_the_current_candle_at_once(server: HubServer) -> None:
    t0 = 1_722_000_000_000
    await server.publish(
        "crypto.aggregated.1m",
        "candle",
        [candle("SNAPUSDT", "1m", t0, "101"), candle("SNAPUSDT", "1m", t0, "102")],
    )
    await server.publish("crypto.aggregated.1m", "candle", [candle("SNAPBUSDT", "1m", t0, "7")])
    async with await connect(server) as ws, await connect(server) as wild:
        assert_envelope(await request(ws, sub("candles", "SNAPUSDT", "1m")), "subscribed")
        current = await recv(ws)
        assert_envelope(current, "candle")
        assert current["seq"] == 2
        assert current["data"] == {
            "symbol": "SNAPUSDT", "timeframe": "1m", "time": "2024-07-26T13:20:00Z", "open": 100, "high": 110,
            "low": 90, "close": 102, "volume": Decimal("2.5"), "trades": 3, "quote_volume": Decimal("250.75"),
            "taker_buy_volume": Decimal("1.25"), "closed": False,
        }  # fmt: skip
        assert_envelope(await request(wild, sub("candles", "*", "1m")), "subscribed")
        await wild.send(json.dumps({"action": "ping"}))
        snapshot = (await recv_until(wild, lambda m: m["type"] == "pong"))[:-1]
        closes = {
            m["data"]["symbol"]: m["data"]["close"]
            for m in snapshot
            if m["data"]["symbol"].startswith("SNAP")
        }
        assert closes == {"SNAPUSDT": 102, "SNAPBUSDT": 7}
        await server.publish(
            "crypto.aggregated.1m", "candle", [candle("SNAPUSDT", "1m", t0, "103", closed=True)]
        )
        update = await recv(ws)
        assert (update["seq"], update["data"]["close"], update["data"]["closed"]) == (3, 103, True)
        await server.publish("crypto.aggregated.15m", "candle", [candle("SNAPUSDT", "15m", t0, "1")])
        await assert_open(ws)  # another timeframe is another subscription


async def test_indicators_carry_their_own_fields(server: HubServer) -> None:
    points = [
        {"symbol": "INDUSDT", "interval": "15m", "type": "macd", "ts": 1_722_000_000_000, "value": 1.5,
         "signal": 1.25, "histogram": 0.25, "final": False},
        {"symbol": "INDUSDT", "interval": "15m", "type": "bollinger", "ts": 1_722_000_000_000, "value": 100.0,
         "upper": 104.0, "lower": 96.0},
        {"symbol": "INDUSDT", "interval": "15m", "type": "rsi", "ts": 1_722_000_000_000, "value": 55.5},
    ]  # fmt: skip
    async with await connect(server) as ws:
        await request(ws, sub("indicators", "INDUSDT", "15m"))
        for point in points:
            await server.publish(f"crypto.indicators.{point['type']}", "indicator", [point])
        got = [await recv(ws) for _ in points]
    assert [m["seq"] for m in got] == [1, 2, 3]
    assert all(m["type"] == "indicator" for m in got)
    assert got[0]["data"] == {
        "symbol": "INDUSDT", "timeframe": "15m", "type": "macd", "ts": 1_722_000_000_000,
        "value": Decimal("1.5"), "final": False, "signal": Decimal("1.25"), "histogram": Decimal("0.25"),
    }  # fmt: skip
    assert (got[1]["data"]["upper"], got[1]["data"]["lower"], got[1]["data"]["final"]) == (104, 96, True)
    assert set(got[2]["data"]) == {"symbol", "timeframe", "type", "ts", "value", "final"}


async def test_news_by_symbol_and_for_all(server: HubServer) -> None:
    async with await connect(server) as btc, await connect(server) as everything:
        await request(btc, sub("news", "NEWSBTC"))
        await request(everything, sub("news", "*"))
        items = [news("a", ["NEWSETH"]), news("b", ["NEWSBTC", "NEWSETH"]), news("c", [])]
        await server.publish("crypto.news", "news", items)
        got = await recv(btc)
        assert_envelope(got, "news")
        assert got["data"]["id"] == "b"
        assert got["data"]["published_at"] == "2024-07-26T13:20:00Z"
        assert set(got["data"]) == {
            "id", "title", "url", "source", "published_at", "summary", "symbols", "sentiment"
        }  # fmt: skip
        all_ids = [(await recv(everything))["data"]["id"] for _ in items]
        assert all_ids == ["a", "b", "c"]
        await assert_open(btc)


ERRORS = [
    ("not json at all", "invalid_json"),
    ("[1, 2]", "invalid_message"),
    ('{"action": 5}', "invalid_message"),
    ('{"type": "trades"}', "invalid_message"),
    ('{"action": "dance"}', "unknown_action"),
    ('{"action": "subscribe"}', "unknown_type"),
    ('{"action": "subscribe", "type": "orders", "symbol": "BTCUSDT"}', "unknown_type"),
    ('{"action": "subscribe", "type": "trades"}', "invalid_symbol"),
    ('{"action": "subscribe", "type": "trades", "symbol": "BTC-USD"}', "invalid_symbol"),
    ('{"action": "subscribe", "type": "trades", "symbol": "B"}', "invalid_symbol"),
    (
        '{"action": "subscribe", "type": "candles", "symbol": "BTCUSDT", "timeframe": "7m"}',
        "invalid_timeframe",
    ),
    ('{"action": "subscribe", "type": "trades", "symbol": "*", "since_seq": 3}', "invalid_since_seq"),
    ('{"action": "subscribe", "type": "trades", "symbol": "BTCUSDT", "since_seq": -1}', "invalid_message"),
    ('{"action": "unsubscribe", "type": "trades", "symbol": "NEVERUSDT"}', "not_subscribed"),
]


async def test_every_bad_message_gets_an_error_and_the_connection_stays_open(server: HubServer) -> None:
    async with await connect(server) as ws:
        for text, code in ERRORS:
            reply = await request(ws, text)
            assert_envelope(reply, "error")
            assert reply["data"]["code"] == code, (text, reply)
            assert isinstance(reply["data"]["message"], str)
            assert reply["data"]["message"]
        await ws.send(b'{"action": "ping"}')  # a binary frame holding JSON is read the same
        assert_envelope(await recv(ws), "pong")
        await assert_open(ws)


async def test_subscriptions_are_capped_per_connection(server: HubServer) -> None:
    async with await connect(server) as ws:
        symbols = [f"CAP{i}USDT" for i in range(MAX_SUBSCRIPTIONS)]
        for symbol in symbols:
            assert_envelope(await request(ws, sub("trades", symbol)), "subscribed")
        assert_envelope(await request(ws, sub("trades", symbols[0])), "subscribed")  # held already: fine
        reply = await request(ws, sub("trades", "CAPXUSDT"))
        assert_envelope(reply, "error")
        assert reply["data"]["code"] == "too_many_subscriptions"
        await request(ws, unsub("trades", symbols[0]))
        assert_envelope(await request(ws, sub("trades", "CAPXUSDT")), "subscribed")


async def test_messages_over_512_bytes_close_with_1009(server: HubServer) -> None:
    async with await connect(server) as ws:
        exactly = json.dumps({"action": "ping"}).ljust(512)
        assert_envelope(await request(ws, exactly), "pong")
        await ws.send(json.dumps({"action": "ping", "pad": "x" * 600}))
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)
        assert ws.close_code == 1009
    async with await connect(server) as ws:  # 300 characters, 600 bytes in UTF-8
        await ws.send(json.dumps({"action": "ping", "pad": "é" * 300}, ensure_ascii=False))
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)
        assert ws.close_code == 1009


async def test_ws_stats_has_the_guide_fields_and_counts(server: HubServer) -> None:
    before = server.stats()
    async with await connect(server) as ws:
        await request(ws, sub("trades", "STATUSDT"))
        await server.publish("crypto.raw.trades", "trade", [trade("STATUSDT", i) for i in (1, 2)])
        await recv(ws)
        await recv(ws)
        during = server.stats()
    for key in ("total_connections", "active_connections", "messages_broadcast", "messages_delivered"):
        assert isinstance(before[key], int)
    assert {"dropped_trades", "coalesced_candles", "dropped_messages", "slow_clients_closed"} <= set(during)
    assert during["total_connections"] == before["total_connections"] + 1
    assert during["active_connections"] >= 1
    assert during["messages_broadcast"] >= before["messages_broadcast"] + 2
    assert during["messages_delivered"] >= before["messages_delivered"] + 3  # reply and two trades
    assert isinstance(during["last_broadcast_time"], int)


def test_plain_http_on_the_websocket_route_is_426(server: HubServer) -> None:
    response = httpx.get(f"http://127.0.0.1:{server.port}/ws/crypto", timeout=10)
    assert response.status_code == 426
    assert response.json()["error"]["code"] == "upgrade_required"


async def test_silent_connection_times_out_and_idle_subscribers_get_pings(
    tmp_path: Path, frontend: bool
) -> None:
    with running_server(
        tmp_path, frontend=frontend, READ_TIMEOUT_SECONDS="1", PING_INTERVAL_SECONDS="0.5"
    ) as srv:
        async with await connect(srv) as silent, await connect(srv) as listener:
            await request(listener, sub("news", "*"))
            assert await asyncio.wait_for(closed_code(silent), 15) == 1008
            pings = [await recv(listener) for _ in range(3)]  # 1.5 s and more: past the read timeout
            assert [m["type"] for m in pings] == ["ping"] * 3
            await assert_open(listener)
            assert srv.stats()["read_timeouts"] == 1


async def test_sigterm_closes_every_client_with_1001_and_exits_0(tmp_path: Path, frontend: bool) -> None:
    with running_server(tmp_path, frontend=frontend) as srv:
        clients = [await connect(srv) for _ in range(3)]
        await request(clients[0], sub("trades", "BYEUSDT"))
        srv.proc.send_signal(15)
        codes = [await closed_code(ws) for ws in clients]
        assert codes == [1001, 1001, 1001], srv.output()[-3000:]
        exit_code = await asyncio.to_thread(srv.proc.wait, STOP_DEADLINE_S)  # no second signal
        assert exit_code == 0, srv.output()[-3000:]
