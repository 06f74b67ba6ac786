"""The real server for the hub's tests: `cryptoviz serve` (granian) with only the test feeder.

Messages are published on the server's own bus through the feeder plugin
(`feeder/hubfeed.py`), and clients are real `websockets` connections over loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from tests.test_serve import CLI, clean_env, free_port

FEEDER = Path(__file__).resolve().parent / "feeder"
START_DEADLINE_S = 30.0
STOP_DEADLINE_S = 20.0
RECV_TIMEOUT_S = 15.0
"""Generous: a loaded 2-core machine may be slow, never this slow."""


@dataclass
class HubServer:
    proc: subprocess.Popen[bytes]
    port: int
    feed_port: int
    log: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/crypto"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"http://127.0.0.1:{self.port}/ws/stats", timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ok"
        data: dict[str, Any] = body["data"]
        return data

    async def publish(self, topic: str, kind: str, items: list[dict[str, Any]]) -> None:
        """Publish `items` as one batch on the server's bus; returns once the bus took them."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.feed_port)
        try:
            writer.write(json.dumps({"topic": topic, "kind": kind, "items": items}).encode() + b"\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.readline(), RECV_TIMEOUT_S)
        finally:
            writer.close()
        assert answer == b"ok\n", f"feeder said {answer!r}:\n{self.output()[-3000:]}"


def start_server(tmp: Path, *, frontend: bool = True, plugins: tuple[str, ...] = (), **hub: str) -> HubServer:
    """`cryptoviz serve` with the test feeder and `plugins`; `frontend` is `server.ws_frontend`,
    `hub` overrides `[hub]` keys."""
    port = free_port()
    port_file = tmp / "feed.port"
    log = tmp / "serve.log"
    env = clean_env(
        SERVER__PORT=str(port),
        SERVER__WS_FRONTEND=str(frontend).lower(),
        STORAGE__SQLITE_PATH=str(tmp / "hub.db"),
        PLUGINS__ENABLED=json.dumps(["hubfeed", *plugins]),
        PLUGINS__FOLDER=str(FEEDER),
        PLUGINS__HUBFEED__PORT_FILE=str(port_file),
        **{f"HUB__{key.upper()}": value for key, value in hub.items()},
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CLI), "serve"],
            env=env,
            cwd=tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        assert proc.poll() is None, f"server exited ({proc.returncode}):\n{log.read_text(errors='replace')}"
        with suppress(httpx.TransportError):
            if (
                httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200
                and port_file.exists()
            ):
                return HubServer(proc, port, int(port_file.read_text()), log)
        assert time.monotonic() < deadline, (
            f"not ready in {START_DEADLINE_S}s:\n{log.read_text(errors='replace')}"
        )
        time.sleep(0.05)


def stop_server(server: HubServer) -> int | None:
    """SIGTERM, then SIGKILL for the whole group if it lingers; the exit code of a clean stop."""
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_DEADLINE_S)
    code = proc.poll()
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=STOP_DEADLINE_S)
    return code


@contextmanager
def running_server(
    tmp: Path, *, frontend: bool = True, plugins: tuple[str, ...] = (), **hub: str
) -> Iterator[HubServer]:
    server = start_server(tmp, frontend=frontend, plugins=plugins, **hub)
    try:
        yield server
    finally:
        stop_server(server)


# -- messages -----------------------------------------------------------------------------


def trade(symbol: str, trade_id: int, *, exchange: str = "test", price: str = "100.5") -> dict[str, Any]:
    return {
        "exchange": exchange, "symbol": symbol, "trade_id": trade_id, "price": price, "quantity": "0.25",
        "time": 1_722_000_000_000 + trade_id, "buyer_is_maker": trade_id % 2 == 1,
    }  # fmt: skip


def candle(symbol: str, interval: str, open_time: int, close: str, *, closed: bool = False) -> dict[str, Any]:
    return {
        "symbol": symbol, "interval": interval, "open_time": open_time, "open": "100", "high": "110",
        "low": "90", "close": close, "volume": "2.5", "trades": 3, "quote_volume": "250.75",
        "taker_buy_volume": "1.25", "closed": closed, "last_trade_id": 7,
    }  # fmt: skip


def news(item_id: str, symbols: list[str]) -> dict[str, Any]:
    return {
        "id": item_id, "title": f"title {item_id}", "url": f"https://example.com/{item_id}",
        "source": "example", "published_at": 1_722_000_000_000, "summary": "summary",
        "symbols": symbols, "sentiment": 0.5,
    }  # fmt: skip


# -- client helpers -----------------------------------------------------------------------


async def connect(server: HubServer, **kwargs: Any) -> ClientConnection:
    return await websockets.connect(server.url, open_timeout=RECV_TIMEOUT_S, **kwargs)


async def recv(ws: ClientConnection, wait: float = RECV_TIMEOUT_S) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait), parse_float=Decimal)
    return message


async def request(ws: ClientConnection, message: dict[str, Any] | str) -> dict[str, Any]:
    """Send one message and return the next one received."""
    await ws.send(message if isinstance(message, str) else json.dumps(message))
    return await recv(ws)


async def recv_until(
    ws: ClientConnection, done: Callable[[dict[str, Any]], bool], limit: int = 10_000
) -> list[dict[str, Any]]:
    """Messages received up to and including the first for which `done` is true."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        message = await recv(ws)
        seen.append(message)
        if done(message):
            return seen
    raise AssertionError(f"no matching message in {limit}: last {seen[-3:]}")


async def closed_code(ws: ClientConnection) -> int | None:
    """Read until the server closes the connection; its close code."""
    with suppress(websockets.ConnectionClosed):
        async for _ in ws:
            pass
    return ws.close_code
