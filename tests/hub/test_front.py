"""The front listener of the real server (`cryptoviz serve`, granian behind it): the handshake
and its refusals, frame-level rules (pings both ways, fragments, faults, the close handshake)
with a bare client, and the byte-for-byte relay of everything else to granian."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from cryptoviz.config import load_config
from cryptoviz.errors import ConfigError
from tests.hub.rawws import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, RawWs
from tests.hub.server import HubServer, closed_code, connect, recv, recv_until, request, running_server, trade

READ_TIMEOUT_S = 2.0
PING_INTERVAL_S = 0.4
ASSETS = Path(__file__).resolve().parents[2] / "cryptoviz" / "static" / "dashboard" / "assets"
UPGRADE = (
    "GET {path} {version}\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: {connection}\r\n"
    "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {ws_version}\r\n\r\n"
)
GOOD = {
    "path": "/ws/crypto",
    "version": "HTTP/1.1",
    "connection": "keep-alive, Upgrade",
    "key": "dGhlIHNhbXBsZSBub25jZQ==",
    "ws_version": "13",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    with running_server(
        tmp_path_factory.mktemp("front"),
        plugins=("dashboard",),
        READ_TIMEOUT_SECONDS=str(READ_TIMEOUT_S),
        PING_INTERVAL_SECONDS=str(PING_INTERVAL_S),
    ) as srv:
        yield srv


def exchange(port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send `data`, read until the server closes the connection (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


# -- handshake -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"key": "too-short"}, 400),
        ({"key": ""}, 400),
        ({"ws_version": "8"}, 426),
        ({"connection": "keep-alive"}, 400),
        ({"version": "HTTP/1.0"}, 400),
    ],
)
def test_bad_upgrades_are_refused_and_closed(server: HubServer, change: dict[str, str], status: int) -> None:
    response = exchange(server.port, UPGRADE.format(**{**GOOD, **change}).encode())
    assert status_of(response) == status, response
    assert b"Connection: close" in response
    if status == 426:
        assert b"Sec-WebSocket-Version: 13" in response


def test_a_good_upgrade_by_hand_gets_the_rfc_accept_key(server: HubServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(UPGRADE.format(**GOOD).encode())
        response = sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), response
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in response  # RFC 6455, section 1.3


async def test_an_upgrade_on_another_path_is_granians_to_refuse(server: HubServer) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"ws://127.0.0.1:{server.port}/ws/other", open_timeout=10)
    assert refused.value.response.status_code == 403
    assert refused.value.response.headers["server"] == "granian"


def test_an_oversize_head_is_431_and_a_slow_one_never_reaches_granian(server: HubServer) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
    response = exchange(server.port, head)
    assert status_of(response) == 431, response
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head[:17_000])  # refused here...
        time.sleep(0.2)
        sock.sendall(head[17_000:] + b"more" * 10_000)  # ...while the client is still sending
        assert status_of(sock.recv(4096)) == 431  # not lost to a reset
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /ws/crypto HTTP/1.1\r\nUpgrade: websocket\r\n")  # never finished
        sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # nothing is answered before the head is complete
    assert httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=10).status_code == 200


# -- frames ----------------------------------------------------------------------------------


async def test_ping_frames_get_pongs_and_fragments_make_one_message(server: HubServer) -> None:
    ws = await RawWs.open(server.port)
    try:
        ws.send(PING, b"are you there")
        assert await ws.frame() == (PONG, b"are you there")
        ws.send(TEXT, b'{"action": ', fin=False)
        ws.send(PING, b"between")  # control frames may come between fragments
        ws.send(CONTINUATION, b'"pi', fin=False)
        ws.send(CONTINUATION, b'ng"}')
        assert await ws.frame() == (PONG, b"between")
        assert (await ws.message())["type"] == "pong"
        ws.send(BINARY, b'{"action": "list_subscriptions"}')
        assert (await ws.message())["type"] == "subscriptions"
    finally:
        ws.close()


async def test_a_peer_that_never_answers_pings_is_closed_after_the_read_timeout(server: HubServer) -> None:
    before = server.stats()["read_timeouts"]
    ws = await RawWs.open(server.port)
    try:
        ws.send_json({"action": "subscribe", "type": "news", "symbol": "*"})  # held: not "silent"
        assert (await ws.message())["type"] == "subscribed"
        opcodes = []
        while True:
            opcode, payload = await ws.frame(READ_TIMEOUT_S * 5)
            opcodes.append(opcode)
            if opcode == CLOSE:
                break
        assert opcodes.count(PING) >= 2, opcodes  # pinged every 0.4 s of silence
        assert struct.unpack("!H", payload[:2])[0] == 1008
        assert b"no answer to pings" in payload
        assert server.stats()["read_timeouts"] == before + 1
    finally:
        ws.close()


async def test_a_peer_answering_pings_stays_open_past_the_read_timeout(server: HubServer) -> None:
    async with await connect(server) as ws:  # websockets answers ping frames by itself
        subscribed = await request(ws, {"action": "subscribe", "type": "news", "symbol": "*"})
        assert subscribed["type"] == "subscribed"
        await asyncio.sleep(READ_TIMEOUT_S * 2)
        await ws.send(json.dumps({"action": "ping"}))
        seen = await recv_until(ws, lambda m: m["type"] == "pong")
        assert {m["type"] for m in seen[:-1]} <= {"ping"}  # the idle notices, for browsers
        assert len(seen) > 1


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"opcode": TEXT, "payload": b'{"action": "ping"}', "masked": False}, 1002),
        ({"opcode": TEXT, "payload": b'{"action": "\xff"}'}, 1007),
        ({"opcode": 0x3, "payload": b"reserved opcode"}, 1002),
        ({"opcode": TEXT, "payload": b"{}", "rsv": 0x40}, 1002),
        ({"opcode": CONTINUATION, "payload": b"nothing to continue"}, 1002),
        ({"opcode": PING, "payload": b"x" * 126}, 1002),
    ],
)
async def test_protocol_faults_close_with_their_code(
    server: HubServer, frame: dict[str, object], code: int
) -> None:
    ws = await RawWs.open(server.port)
    try:
        opcode, payload = frame.pop("opcode"), frame.pop("payload")
        ws.send(opcode, payload, **frame)  # type: ignore[arg-type]
        assert (await ws.close_frame())[0] == code
        assert await ws.at_eof()
    finally:
        ws.close()


async def test_a_fragmented_message_over_512_bytes_closes_with_1009(server: HubServer) -> None:
    ws = await RawWs.open(server.port)
    try:
        ws.send(TEXT, b"x" * 300, fin=False)
        ws.send(CONTINUATION, b"x" * 300)
        code, reason = await ws.close_frame()
        assert (code, reason) == (1009, "message larger than 512 bytes")
    finally:
        ws.close()


async def test_the_close_handshake_echoes_the_clients_code(server: HubServer) -> None:
    async with await connect(server) as ws:
        assert (await request(ws, {"action": "ping"}))["type"] == "pong"
        await ws.close(4001, "bye")
        assert ws.close_code == 4001  # what the server answered
    ws2 = await RawWs.open(server.port)
    try:
        ws2.send(CLOSE, struct.pack("!H", 1000) + b"done")
        assert (await ws2.close_frame())[0] == 1000
        assert await ws2.at_eof()  # then the server ends the TCP connection
        bare = await RawWs.open(server.port)
        bare.send(CLOSE, b"")
        assert await bare.frame() == (CLOSE, b"")  # no code in, none out (1005 is never sent)
        bare.close()
    finally:
        ws2.close()


# -- relay -----------------------------------------------------------------------------------


def test_keep_alive_and_pipelined_requests_are_relayed_on_one_connection(server: HubServer) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
        streams = set()
        for _ in range(20):
            response = client.get("/health")
            assert response.status_code == 200
            streams.add(id(response.extensions["network_stream"]))
        assert len(streams) == 1  # one connection, kept alive through the front
        stats = client.get("/ws/stats").json()
        assert stats["status"] == "ok"
    pipelined = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 3
    pipelined += b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    response = exchange(server.port, pipelined)
    assert response.count(b"HTTP/1.1 200 OK") == 4, response


def _largest_asset() -> Path:
    files = sorted(ASSETS.glob("*.js"), key=lambda p: p.stat().st_size) if ASSETS.is_dir() else []
    if not files or files[-1].stat().st_size < 100_000:
        pytest.skip("no built dashboard asset of 100 KB or more")
    return files[-1]


async def test_a_large_response_reaches_a_slow_reader_byte_for_byte(server: HubServer) -> None:
    asset = _largest_asset()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        writer.write(f"GET /assets/{asset.name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200 "), head
        body = bytearray()
        while chunk := await asyncio.wait_for(reader.read(4096), 10):
            body += chunk
            if len(body) < 64 * 1024:
                await asyncio.sleep(0.005)  # slow at first: the relay must hold back, not buffer it all
        assert bytes(body) == asset.read_bytes()
    finally:
        writer.close()


async def test_thousands_of_pipelined_requests_flow_both_ways(server: HubServer) -> None:
    """Megabytes each way on one connection, written without waiting for the answers: the
    relay must pass them on with flow control, in order, and lose nothing."""
    count = 5000
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        request_bytes = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 200 + b"\r\n\r\n"
        writer.write(
            request_bytes * (count - 1) + request_bytes.replace(b"Host: x", b"Host: x\r\nConnection: close")
        )
        drained = asyncio.create_task(writer.drain())
        body = await asyncio.wait_for(reader.read(-1), 60)
        await drained
    finally:
        writer.close()
    assert body.count(b"HTTP/1.1 200 OK\r\n") == count
    assert body.count(b'"status":"ok"') == count


def test_plain_http_on_the_hub_path_is_relayed_to_the_asgi_answer(server: HubServer) -> None:
    response = httpx.get(f"http://127.0.0.1:{server.port}/ws/crypto?x=1", timeout=10)
    assert response.status_code == 426
    assert response.json()["error"]["code"] == "upgrade_required"


# -- switch ----------------------------------------------------------------------------------


async def test_with_the_front_off_granian_serves_the_port_itself(tmp_path: Path) -> None:
    with running_server(tmp_path, frontend=False) as srv:
        async with await connect(srv) as ws:
            assert "date" in ws.response.headers  # granian's 101 has one; the front's does not
            assert (await request(ws, {"action": "ping"}))["type"] == "pong"
        head = (
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
        )
        assert status_of(exchange(srv.port, head)) == 200  # no 16 KiB head limit in front of it
    (tmp_path / "on").mkdir()
    with running_server(tmp_path / "on") as srv:
        async with await connect(srv) as ws:
            assert "date" not in ws.response.headers


def test_the_switch_is_validated_like_every_key(tmp_path: Path) -> None:
    assert load_config(None, {}).server.ws_frontend is True
    assert load_config(None, {"CRYPTOVIZ_SERVER__WS_FRONTEND": "false"}).server.ws_frontend is False
    with pytest.raises(ConfigError, match=r"`server\.ws_frontend` = 'maybe'"):
        load_config(None, {"CRYPTOVIZ_SERVER__WS_FRONTEND": "maybe"})


async def test_sigterm_closes_front_clients_with_1001_while_rest_was_relayed(tmp_path: Path) -> None:
    with running_server(tmp_path) as srv:
        async with await connect(srv) as ws:
            await request(ws, {"action": "subscribe", "type": "trades", "symbol": "BYEUSDT"})
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as client:
                assert (await client.get("/health")).status_code == 200  # a kept-alive relayed connection
                srv.proc.send_signal(15)
                assert await asyncio.wait_for(closed_code(ws), 30) == 1001
        exit_code = await asyncio.to_thread(srv.proc.wait, 20)
        assert exit_code == 0, srv.output()[-3000:]
        assert "Traceback" not in srv.output()


async def test_stats_count_front_clients(server: HubServer) -> None:
    before = server.stats()
    async with await connect(server) as ws:
        await ws.send(json.dumps({"action": "ping"}))
        await recv(ws)
        during = server.stats()
    assert during["total_connections"] == before["total_connections"] + 1
    assert during["messages_delivered"] >= before["messages_delivered"] + 1


async def test_an_upgrade_after_a_relayed_request_is_served_by_granian_on_the_same_hub(
    server: HubServer,
) -> None:
    """The front routes a connection on its first request only: a WebSocket upgrade that comes
    later on a kept-alive connection reaches granian's ASGI path, which shares the hub, whose
    frames are then built for the listener first and turned into ASGI events for this client."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    assert length is not None, head
    await reader.readexactly(int(length.group(1)))
    writer.write(UPGRADE.format(**GOOD).encode())
    response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert response.startswith(b"HTTP/1.1 101 ")
    assert b"date:" in response.lower()  # granian's answer, not the front's
    ws = RawWs(reader, writer, response)
    async with await connect(server) as front_client:
        try:
            ws.send_json({"action": "subscribe", "type": "trades", "symbol": "MIXUSDT"})
            assert (await ws.message())["type"] == "subscribed"
            await request(front_client, {"action": "subscribe", "type": "trades", "symbol": "MIXUSDT"})
            await server.publish("crypto.raw.trades", "trade", [trade("MIXUSDT", i) for i in (1, 2)])
            for got in ([await ws.message() for _ in range(2)], [await recv(front_client) for _ in range(2)]):
                assert [(m["type"], m["data"]["trade_id"], m["seq"]) for m in got] == [
                    ("trade", 1, 1),
                    ("trade", 2, 2),
                ]
        finally:
            ws.close()
