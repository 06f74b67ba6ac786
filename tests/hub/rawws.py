"""A deliberately bare WebSocket client for frame-level tests: it sends exactly the frames a
test builds (unmasked, fragmented, reserved opcodes...) and reports every frame it reads,
pings included, which a library client would answer or hide."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from typing import Any

CLOSE, PING, PONG, TEXT, BINARY, CONTINUATION = 0x8, 0x9, 0xA, 0x1, 0x2, 0x0
TIMEOUT_S = 15.0


def client_frame(
    opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0
) -> bytes:
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawWs:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes) -> None:
        self.reader, self.writer, self.response = reader, writer, response

    @classmethod
    async def open(cls, port: int, path: str = "/ws/crypto") -> RawWs:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
        assert response.startswith(b"HTTP/1.1 101 "), response
        return cls(reader, writer, response)

    def send(self, opcode: int, payload: bytes, **options: Any) -> None:
        self.writer.write(client_frame(opcode, payload, **options))

    def send_json(self, message: dict[str, Any]) -> None:
        self.send(TEXT, json.dumps(message).encode())

    async def frame(self, wait: float = TIMEOUT_S) -> tuple[int, bytes]:
        """The next frame as (opcode, payload); server frames are never masked nor fragmented here."""
        b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), wait)
        assert not b1 & 0x80, "a server frame must not be masked"
        assert b0 & 0x80, "the hub sends whole messages in one frame"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return b0 & 0x0F, await asyncio.wait_for(self.reader.readexactly(n), wait)

    async def message(self, wait: float = TIMEOUT_S) -> dict[str, Any]:
        """The next JSON message, skipping pings."""
        while True:
            opcode, payload = await self.frame(wait)
            if opcode == TEXT:
                decoded: dict[str, Any] = json.loads(payload)
                return decoded
            assert opcode == PING, (opcode, payload)

    async def close_frame(self, wait: float = TIMEOUT_S) -> tuple[int, str]:
        """Read up to the server's close frame: its code and reason."""
        while True:
            opcode, payload = await self.frame(wait)
            if opcode == CLOSE:
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    async def at_eof(self, wait: float = TIMEOUT_S) -> bool:
        """The server ended the TCP connection (after any bytes still on the way)."""
        while await asyncio.wait_for(self.reader.read(65536), wait):
            pass
        return True

    def close(self) -> None:
        self.writer.close()
