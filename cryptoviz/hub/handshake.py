"""The HTTP side of the front listener: a request head, read strictly, and the RFC 6455 answer.

Only what the front must decide is parsed: the request line of every request, and the
headers of a `GET /ws/crypto`. Everything else goes to the application server untouched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Final, NamedTuple

from cryptoviz.hub.endpoint import PATHS

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_REASONS: Final = {
    400: "Bad Request",
    408: "Request Timeout",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class Head(NamedTuple):
    method: bytes
    path: bytes
    """The target without its query."""
    version: bytes


class HandshakeError(Exception):
    """The upgrade is refused with this status, and the connection closed."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def request_line(head: bytes) -> Head:
    """The first line of `head` (which ends with CRLF CRLF); raises HandshakeError(400)."""
    line = head[: head.find(b"\r\n")]
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[1] or not parts[2].startswith(b"HTTP/"):
        raise HandshakeError(400, "malformed request line")
    method, target, version = parts
    return Head(method, target.partition(b"?")[0], version)


def is_upgrade(head: Head, headers: dict[str, str]) -> bool:
    """A WebSocket upgrade on the hub's path: what the front serves itself."""
    return head.path.decode("latin-1") in PATHS and "websocket" in _tokens(headers.get("upgrade", ""))


def wants_hub(head: Head) -> bool:
    """Worth reading the headers: a GET on the hub's path."""
    return head.method == b"GET" and head.path.decode("latin-1") in PATHS


def headers_of(head: bytes) -> dict[str, str]:
    """Header fields by lower-case name; repeated fields joined with commas, as RFC 9110 allows."""
    fields: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip() or b" " in name:
            raise HandshakeError(400, "malformed header field")
        key = name.decode("latin-1").lower()
        text = value.strip().decode("latin-1")
        fields[key] = f"{fields[key]}, {text}" if key in fields else text
    return fields


def accept(head: Head, headers: dict[str, str]) -> bytes:
    """The 101 response to a valid upgrade; raises HandshakeError for an invalid one."""
    if head.version != b"HTTP/1.1":
        raise HandshakeError(400, "WebSocket needs HTTP/1.1")
    if "upgrade" not in _tokens(headers.get("connection", "")):
        raise HandshakeError(400, "Connection header must include Upgrade")
    if headers.get("sec-websocket-version") != "13":
        raise HandshakeError(426, "unsupported WebSocket version", (("Sec-WebSocket-Version", "13"),))
    key = headers.get("sec-websocket-key", "")
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != 16:
        raise HandshakeError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    digest = base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + digest + b"\r\n\r\n"
    )


def refusal(error: HandshakeError) -> bytes:
    """A small plain-text response that closes the connection."""
    body = f"{error.message}\n".encode()
    lines = [
        f"HTTP/1.1 {error.status} {_REASONS.get(error.status, 'Error')}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in error.headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",")}
