"""The hub's own listener in this process, on loopback, with real `websockets` clients and a
bare socket: what the real-server tests cannot see from outside (a stuck client's buffers
stay bounded, frames are built once and shared, admission and shutdown codes)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from decimal import Decimal

import msgspec
import pytest
import websockets

from cryptoviz.config import HubConfig
from cryptoviz.hub.front import Front
from cryptoviz.hub.hub import Hub
from cryptoviz.hub.wire_client import HIGH_WATER, WRITE_CHUNK, WireClient
from cryptoviz.models import NewsItem, Trade
from tests.hub.rawws import TEXT, client_frame
from tests.hub.server import closed_code, recv, request

TIMEOUT_S = 30.0


async def started(hub: Hub) -> tuple[Front, str]:
    front = Front(hub, "/nonexistent/upstream.sock")  # nothing here is relayed
    await front.start("127.0.0.1", 0)
    assert front.server is not None
    port = front.server.sockets[0].getsockname()[1]
    return front, f"ws://127.0.0.1:{port}/ws/crypto"


@pytest.fixture
async def listener() -> AsyncIterator[tuple[Hub, str]]:
    hub = Hub(msgspec.convert({"max_connections": 60}, HubConfig))
    front, url = await started(hub)
    try:
        yield hub, url
    finally:
        await hub.close_all(1001, "test over", 2.0)
        await front.stop()


def trade(trade_id: int) -> Trade:
    return Trade("test", "LSTUSDT", trade_id, Decimal("1.5"), Decimal("2"), 1_722_000_000_000, False)


def big_news(n: int) -> NewsItem:
    return NewsItem(f"big{n}", "t", "https://example.com", "x", 1_722_000_000_000, "x" * 100_000, [], 0.0)


def stuck_socket(port: int) -> socket.socket:
    """A client that subscribes to trades and news, then never reads again (4 KiB receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        b"GET /ws/crypto HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(client_frame(TEXT, b'{"action":"subscribe","type":"trades","symbol":"LSTUSDT"}'))
    sock.sendall(client_frame(TEXT, b'{"action":"subscribe","type":"news","symbol":"*"}'))
    return sock


async def test_a_stuck_client_stays_bounded_while_fifty_others_get_everything_in_order(
    listener: tuple[Hub, str],
) -> None:
    hub, url = listener
    count, batch = 1500, 100
    sock = await asyncio.to_thread(stuck_socket, int(url.split(":")[2].split("/")[0]))
    others = [await websockets.connect(url, ping_interval=None) for _ in range(50)]
    try:
        for ws in others:
            assert (await request(ws, {"action": "subscribe", "type": "trades", "symbol": "LSTUSDT"}))[
                "type"
            ] == "subscribed"
        while not any(len(c.subs) == 2 for c in hub.clients.values()):  # noqa: ASYNC110 - a plain condition
            await asyncio.sleep(0.01)
        stuck = next(c for c in hub.clients.values() if len(c.subs) == 2)
        assert isinstance(stuck, WireClient)
        for i in range(40):  # 4 MB for the stuck client alone
            hub.publish_news([big_news(i)])
            await asyncio.sleep(0)

        async def read_all(ws: websockets.ClientConnection) -> list[int]:
            return [(await recv(ws, TIMEOUT_S))["data"]["trade_id"] for _ in range(count)]

        readers = [asyncio.create_task(read_all(ws)) for ws in others]
        for start in range(1, count + 1, batch):
            hub.publish_trades([trade(i) for i in range(start, start + batch)])
            await asyncio.sleep(0.005)
        results = await asyncio.wait_for(asyncio.gather(*readers), TIMEOUT_S)
        assert all(got == list(range(1, count + 1)) for got in results)

        assert stuck.paused  # its transport is past the high-water mark...
        held = stuck.transport.get_write_buffer_size()
        assert held <= HIGH_WATER + WRITE_CHUNK + 101_000, held  # ...and holds no more than that
        assert len(stuck.buf) <= stuck.cap
        assert stuck.dropped_trades > 0  # the hub's own policy took over: oldest trades dropped
        assert stuck.close_code == 0  # no upkeep runs here: nothing closed it
    finally:
        for ws in others:
            await ws.close()
        sock.close()


async def test_each_message_is_framed_once_and_shared_by_every_recipient(listener: tuple[Hub, str]) -> None:
    hub, url = listener
    clients = [await websockets.connect(url) for _ in range(3)]
    try:
        for ws in clients:
            await request(ws, {"action": "subscribe", "type": "trades", "symbol": "LSTUSDT"})
        hub.publish_trades([trade(1)])
        frame = hub.streams[next(k for k in hub.streams if k.type == "trades")].history[-1]
        assert frame.event is None  # never turned into an ASGI event
        assert frame.wire is not None
        assert frame.wire[0] == 0x81  # a final text frame, unmasked
        got = [await recv(ws) for ws in clients]
        assert {m["data"]["trade_id"] for m in got} == {1}
        assert frame.wire.endswith(msgspec.json.encode(got[0])[-20:])
    finally:
        for ws in clients:
            await ws.close()


async def test_a_full_hub_refuses_with_1013_and_a_closing_one_with_1001() -> None:
    hub = Hub(msgspec.convert({"max_connections": 1}, HubConfig))
    front, url = await started(hub)
    try:
        first = await websockets.connect(url)
        second = await websockets.connect(url)
        assert await asyncio.wait_for(closed_code(second), TIMEOUT_S) == 1013
        assert hub.stats.rejected == 1
        await hub.close_all(1001, "server shutting down", 2.0)
        assert await asyncio.wait_for(closed_code(first), TIMEOUT_S) == 1001
        assert hub.clients == {}
        late = await websockets.connect(url)
        assert await asyncio.wait_for(closed_code(late), TIMEOUT_S) == 1001
    finally:
        await front.stop()


async def test_an_unreachable_application_server_gets_a_502() -> None:
    hub = Hub(HubConfig())
    front, url = await started(hub)
    try:
        port = int(url.split(":")[2].split("/")[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        response = await asyncio.wait_for(reader.read(-1), TIMEOUT_S)
        writer.close()
        assert response.startswith(b"HTTP/1.1 502 Bad Gateway\r\n"), response
        assert front.pipes == set()
    finally:
        await front.stop()


async def test_interleaved_symbols_keep_their_publish_order_and_numbers(listener: tuple[Hub, str]) -> None:
    hub, url = listener
    async with websockets.connect(url) as everything, websockets.connect(url) as both:
        await request(everything, {"action": "subscribe", "type": "trades", "symbol": "*"})
        for symbol in ("ORDAUSDT", "ORDBUSDT"):
            await request(both, {"action": "subscribe", "type": "trades", "symbol": symbol})
        order = [("ORDAUSDT", 1), ("ORDAUSDT", 2), ("ORDBUSDT", 3), ("ORDAUSDT", 4), ("ORDBUSDT", 5)]
        hub.publish_trades([_trade(s, i) for s, i in order])
        for ws in (everything, both):
            got = [await recv(ws) for _ in order]
            seen = [(m["data"]["symbol"], m["data"]["trade_id"], m["seq"]) for m in got]
            assert seen == [
                ("ORDAUSDT", 1, 1), ("ORDAUSDT", 2, 2), ("ORDBUSDT", 3, 1), ("ORDAUSDT", 4, 3),
                ("ORDBUSDT", 5, 2),
            ]  # fmt: skip


def _trade(symbol: str, trade_id: int) -> Trade:
    return Trade("test", symbol, trade_id, Decimal("1.5"), Decimal("2"), 1_722_000_000_000, False)
