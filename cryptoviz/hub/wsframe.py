"""RFC 6455 frames: the server's (built once, unmasked) and the client's (parsed, strict).

The reader keeps at most one partial frame: a data message is refused (1009) as soon as
its header shows it would pass the limit, so a client can never make it hold more than the
limit plus one frame header, whatever length it announces.
"""

from __future__ import annotations

import struct
from typing import Final

CONTINUATION: Final = 0x0
TEXT: Final = 0x1
BINARY: Final = 0x2
CLOSE: Final = 0x8
PING: Final = 0x9
PONG: Final = 0xA
_CONTROL_MAX: Final = 125
_DATA_OPCODES: Final = frozenset({CONTINUATION, TEXT, BINARY})
_CONTROL_OPCODES: Final = frozenset({CLOSE, PING, PONG})
_SHORT = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")
_CODE = struct.Struct("!H")


class WsError(Exception):
    """A protocol fault of the client: the connection is closed with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def build(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame: what a server sends."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return _SHORT.pack(0x80 | opcode, 126, n) + payload
    return _LONG.pack(0x80 | opcode, 127, n) + payload


def payload_of(frame: bytes) -> bytes:
    """The payload of a frame `build` made."""
    n = frame[1] & 0x7F
    return frame[2 if n < 126 else 4 if n == 126 else 10 :]


def close_frame(code: int, reason: str) -> bytes:
    """A close frame (empty for 1005, "no code"); the reason is cut to fit a control frame."""
    if code == 1005:
        return build(CLOSE, b"")
    text = reason.encode()[: _CONTROL_MAX - 2]
    return build(CLOSE, _CODE.pack(code) + text.decode(errors="ignore").encode())


def close_code(payload: bytes) -> int:
    """The code a client's close frame carries (1005 when none); raises WsError when invalid."""
    if not payload:
        return 1005
    if len(payload) == 1:
        raise WsError(1002, "close frame with a one-byte payload")
    code: int = _CODE.unpack_from(payload)[0]
    if not ((1000 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code <= 4999):
        raise WsError(1002, f"invalid close code {code}")
    try:
        payload[2:].decode()
    except UnicodeDecodeError:
        raise WsError(1007, "close reason is not UTF-8") from None
    return code


def unmask(data: bytes, mask: bytes) -> bytes:
    """XOR with the 4-byte mask, as one big-integer operation (messages are small)."""
    n = len(data)
    if not n:
        return data
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


class Reader:
    """Client frames in, whole messages and control frames out."""

    __slots__ = ("buf", "kind", "limit", "parts", "size")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buf = bytearray()
        self.kind = 0
        """Opcode of the fragmented message being read, 0 when none."""
        self.parts: list[bytes] = []
        self.size = 0

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next(self) -> tuple[int, bytes] | None:
        """The next message (TEXT or BINARY) or control frame, or None until more bytes come."""
        while True:
            buf = self.buf
            have = len(buf)
            if have < 2:
                return None
            b0, b1 = buf[0], buf[1]
            if b0 & 0x70:
                raise WsError(1002, "reserved bits set")
            if not b1 & 0x80:
                raise WsError(1002, "client frames must be masked")
            opcode, fin, n, start = b0 & 0x0F, b0 & 0x80, b1 & 0x7F, 2
            if n == 126:
                if have < 4:
                    return None
                n, start = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if have < 10:
                    return None
                n, start = int.from_bytes(buf[2:10], "big"), 10
            self._check(opcode, fin, n)
            end = start + 4 + n
            if have < end:
                return None
            payload = unmask(bytes(buf[start + 4 : end]), bytes(buf[start : start + 4]))
            del buf[:end]
            if opcode >= CLOSE:
                return opcode, payload
            message = self._assemble(opcode, fin, payload)
            if message is not None:
                return message

    def _check(self, opcode: int, fin: int, n: int) -> None:
        if opcode in _CONTROL_OPCODES:
            if n > _CONTROL_MAX or not fin:
                raise WsError(1002, "control frames must be final and at most 125 bytes")
            return
        if opcode not in _DATA_OPCODES:
            raise WsError(1002, f"unknown opcode {opcode}")
        if (opcode == CONTINUATION) != bool(self.kind):
            raise WsError(1002, "continuation frame out of place")
        if self.size + n > self.limit:
            raise WsError(1009, f"message larger than {self.limit} bytes")

    def _assemble(self, opcode: int, fin: int, payload: bytes) -> tuple[int, bytes] | None:
        if opcode != CONTINUATION:
            if fin:
                return _checked(opcode, payload)
            self.kind = opcode
        self.parts.append(payload)
        self.size += len(payload)
        if not fin:
            return None
        kind, data = self.kind, b"".join(self.parts)
        self.kind, self.size = 0, 0
        self.parts.clear()
        return _checked(kind, data)


def _checked(kind: int, payload: bytes) -> tuple[int, bytes]:
    if kind == TEXT and not payload.isascii():
        try:
            payload.decode()
        except UnicodeDecodeError:
            raise WsError(1007, "text message is not UTF-8") from None
    return kind, payload
