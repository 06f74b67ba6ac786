"""Delivery through the real server: a stuck client never holds the others back, and a
client that reconnects resumes exactly where it left off (or is told it cannot)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.hub.server import (
    STOP_DEADLINE_S,
    HubServer,
    closed_code,
    connect,
    news,
    recv,
    request,
    running_server,
    trade,
)

HISTORY = 100


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, frontend: bool) -> Iterator[HubServer]:
    with running_server(tmp_path_factory.mktemp("delivery"), frontend=frontend, HISTORY=str(HISTORY)) as srv:
        yield srv


def trades_sub(symbol: str, **extra: Any) -> dict[str, Any]:
    return {"action": "subscribe", "type": "trades", "symbol": symbol, **extra}


async def publish_trades(server: HubServer, symbol: str, ids: range) -> None:
    await server.publish("crypto.raw.trades", "trade", [trade(symbol, i) for i in ids])


async def test_resume_after_reconnect_gets_exactly_the_missed_messages(server: HubServer) -> None:
    async with await connect(server) as ws:
        await request(ws, trades_sub("RESUSDT"))
        await publish_trades(server, "RESUSDT", range(1, 6))
        first = [await recv(ws) for _ in range(5)]
    last_seq = first[-1]["seq"]
    assert [m["seq"] for m in first] == [1, 2, 3, 4, 5]

    await publish_trades(server, "RESUSDT", range(6, 21))  # while disconnected
    async with await connect(server) as ws:
        reply = await request(ws, trades_sub("RESUSDT", since_seq=last_seq))
        assert reply["type"] == "subscribed"
        missed = [await recv(ws) for _ in range(15)]
        assert [(m["seq"], m["data"]["trade_id"]) for m in missed] == [(i, i) for i in range(6, 21)]
        await publish_trades(server, "RESUSDT", range(21, 22))
        live = await recv(ws)
        assert (live["seq"], live["data"]["trade_id"]) == (21, 21)
        assert (await request(ws, {"action": "ping"}))["type"] == "pong"  # nothing else came

        up_to_date = await request(ws, trades_sub("RESUSDT", since_seq=21))
        assert up_to_date["type"] == "subscribed"
        assert (await request(ws, {"action": "ping"}))["type"] == "pong"


async def test_resume_past_the_history_gets_a_reset_notice(server: HubServer) -> None:
    await publish_trades(server, "RSTUSDT", range(1, HISTORY + 31))
    async with await connect(server) as ws:
        await request(ws, trades_sub("RSTUSDT", since_seq=10))
        reset = await recv(ws)
        assert reset["type"] == "reset"
        assert reset["data"] == {
            "type": "trades", "symbol": "RSTUSDT", "timeframe": None,
            "oldest_seq": 31, "last_seq": HISTORY + 30,
        }  # fmt: skip
        assert (await request(ws, {"action": "ping"}))["type"] == "pong"

        await request(ws, trades_sub("RSTUSDT", since_seq=30))  # the oldest held is 31: exactly enough
        held = [await recv(ws) for _ in range(HISTORY)]
        assert [m["seq"] for m in held] == list(range(31, HISTORY + 31))

        await request(ws, trades_sub("RSTUSDT", since_seq=10**9))  # a number this stream never reached
        beyond = await recv(ws)
        assert beyond["type"] == "reset"
        assert beyond["data"]["last_seq"] == HISTORY + 30


async def test_news_resume_follows_the_subscription_symbol(server: HubServer) -> None:
    async with await connect(server) as ws:
        await request(ws, {"action": "subscribe", "type": "news", "symbol": "*"})
        await server.publish("crypto.news", "news", [news("r0", ["RNEWSA"])])
        start = (await recv(ws))["seq"]
    await server.publish(
        "crypto.news", "news", [news("r1", ["RNEWSA"]), news("r2", ["RNEWSB"]), news("r3", [])]
    )
    async with await connect(server) as ws:
        await request(ws, {"action": "subscribe", "type": "news", "symbol": "RNEWSB", "since_seq": start})
        resumed = await recv(ws)
        assert (resumed["data"]["id"], resumed["seq"]) == ("r2", start + 2)
        assert (await request(ws, {"action": "ping"}))["type"] == "pong"


async def test_a_stuck_client_never_delays_fifty_others(tmp_path: Path, frontend: bool) -> None:
    """The stuck client's socket is filled with large news nobody else takes, then it is sent
    trades with everyone else. It is closed with 1008 while the 50 others get every trade, in
    order, with nothing dropped; once it reads again it finds the close."""
    count, batch = 1500, 100
    with running_server(
        tmp_path, frontend=frontend, WRITE_TIMEOUT_SECONDS="1", CLOSE_TIMEOUT_SECONDS="30"
    ) as srv:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", srv.port))
        stuck = await websockets.connect(srv.url, sock=sock, max_queue=1, ping_interval=None)
        await request(stuck, trades_sub("STUCKUSDT"))
        await request(stuck, {"action": "subscribe", "type": "news", "symbol": "*"})
        others = [await connect(srv, ping_interval=None) for _ in range(50)]
        for ws in others:
            assert (await request(ws, trades_sub("STUCKUSDT")))["type"] == "subscribed"

        big = "x" * 100_000
        for i in range(40):  # 4 MB for the stuck client alone: more than its socket buffers hold
            await srv.publish("crypto.news", "news", [{**news(f"big{i}", []), "summary": big}])

        received = [0] * len(others)
        progress = asyncio.Event()
        failures: list[str] = []

        async def read_all(n: int, ws: ClientConnection) -> None:
            expected = 1
            while expected <= count:
                message = await recv(ws, 60)
                if message["type"] != "trade":
                    continue
                if (message["data"]["trade_id"], message["seq"]) != (expected, expected):
                    failures.append(f"client {n}: expected {expected}, got {message}")
                    return
                expected += 1
                received[n] = expected - 1
                progress.set()

        readers = [asyncio.create_task(read_all(n, ws)) for n, ws in enumerate(others)]
        for start in range(1, count + 1, batch):
            await publish_trades(srv, "STUCKUSDT", range(start, start + batch))
            while min(received) < start - 1 and not failures:  # pace: at most two batches in flight
                progress.clear()
                await asyncio.wait_for(progress.wait(), 60)
        await asyncio.wait_for(asyncio.gather(*readers), 120)
        assert not failures, failures[:3]
        assert received == [count] * len(others)

        stats = srv.stats()
        assert stats["slow_clients_closed"] == 1, stats
        assert stats["active_connections"] == len(others)
        assert await asyncio.wait_for(closed_code(stuck), 60) == 1008
        for ws in others:
            await ws.close()


async def test_a_stuck_client_does_not_spoil_the_graceful_stop(tmp_path: Path, frontend: bool) -> None:
    """SIGTERM while a client's send is blocked: the server still stops its runtime (flushes,
    stops plugins) and exits 0. A send left pending would crash granian's worker at exit."""
    with running_server(tmp_path, frontend=frontend) as srv:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", srv.port))
        stuck = await websockets.connect(srv.url, sock=sock, max_queue=1, ping_interval=None)
        await request(stuck, {"action": "subscribe", "type": "news", "symbol": "*"})
        big = "x" * 100_000
        for i in range(40):
            await srv.publish("crypto.news", "news", [{**news(f"big{i}", []), "summary": big}])
        async with await connect(srv) as other:
            assert (await request(other, {"action": "ping"}))["type"] == "pong"  # serving meanwhile
            srv.proc.send_signal(15)
            assert await asyncio.wait_for(closed_code(other), 30) == 1001
        exit_code = await asyncio.to_thread(srv.proc.wait, STOP_DEADLINE_S)
        output = srv.output()
        assert exit_code == 0, output[-3000:]
        assert "stopping plugin hubfeed" in output, output[-3000:]
        assert "panicked" not in output, output[-3000:]
        stuck.transport.abort()
