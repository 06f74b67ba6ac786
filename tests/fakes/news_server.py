"""A real HTTP/1.1 server on loopback for the news tests: recorded feeds and broken variants.

It runs in the test's event loop (asyncio streams), answers one request per connection,
and honours conditional GET like a real feed host. Routes:
- `Static`: a fixed body, optionally with an ETag and/or Last-Modified (304 when they match);
  `status` makes an error page (503 with HTML, say).
- `Stall`: reads the request and sends nothing for `seconds` (30 by default), really.
- `Huge`: a body of `size` bytes, streamed in chunks (no Content-Length) unless `declared`.
- `Drip`: headers, then one byte every `interval` seconds, for ever.
- `Posts`: the CryptoPanic posts endpoint: the recorded JSON when `auth_token` is right, 401 if not.
Counters (`hits`, `not_modified`, `stalls_open`) let tests see what clients did.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REASONS = {200: "OK", 304: "Not Modified", 401: "Unauthorized", 404: "Not Found", 503: "Service Unavailable"}


@dataclass
class Static:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: bool = False
    last_modified: bool = False
    status: int = 200
    modified: str = field(default_factory=lambda: formatdate(1_765_000_000, usegmt=True))

    @property
    def tag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest() + '"'

    def replace(self, body: bytes) -> None:
        """New content: a new ETag and a later Last-Modified."""
        self.body = body
        self.modified = formatdate(1_765_000_000 + len(body), usegmt=True)


@dataclass
class Stall:
    seconds: float = 30.0


@dataclass
class Huge:
    size: int = 10 * 1024 * 1024
    declared: bool = False
    chunk: int = 64 * 1024


@dataclass
class Drip:
    interval: float = 0.2


@dataclass
class Posts:
    body: bytes
    token: str


Route = Static | Stall | Huge | Drip | Posts


class NewsServer:
    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.stalls_open = 0
        self.queries: list[str] = []
        self._server: asyncio.Server | None = None
        self._closing = asyncio.Event()
        self._connections: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            await self._respond(head.decode("latin-1"), writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _respond(self, head: str, writer: asyncio.StreamWriter) -> None:
        lines = head.split("\r\n")
        target = lines[0].split(" ")[1]
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        parts = urlsplit(target)
        self.hits[parts.path] += 1
        self.queries.append(parts.query)
        route = self.routes.get(parts.path)
        if isinstance(route, Static):
            await self._static(route, parts.path, headers, writer)
        elif isinstance(route, Posts):
            token = parse_qs(parts.query).get("auth_token", [""])[0]
            if token == route.token:
                await self._send(writer, 200, route.body, {"Content-Type": "application/json"})
            else:
                await self._send(writer, 401, b'{"status":"Incomplete","info":"Token not found"}', {})
        elif isinstance(route, Stall):
            self.stalls_open += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), route.seconds)
            finally:
                self.stalls_open -= 1
        elif isinstance(route, Huge):
            await self._huge(route, writer)
        elif isinstance(route, Drip):
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n"
            )
            while not self._closing.is_set():
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(route.interval)
        else:
            await self._send(
                writer, 404, b"<html><body>not found</body></html>", {"Content-Type": "text/html"}
            )

    async def _static(
        self, route: Static, path: str, headers: dict[str, str], writer: asyncio.StreamWriter
    ) -> None:
        extra = {"Content-Type": route.content_type}
        if route.etag:
            extra["ETag"] = route.tag
        if route.last_modified:
            extra["Last-Modified"] = route.modified
        matches = (route.etag and headers.get("if-none-match") == route.tag) or (
            route.last_modified
            and "if-none-match" not in headers
            and headers.get("if-modified-since") == route.modified
        )
        if route.status == 200 and matches:
            self.not_modified[path] += 1
            await self._send(writer, 304, b"", {k: v for k, v in extra.items() if k != "Content-Type"})
            return
        await self._send(writer, route.status, route.body, extra)

    async def _huge(self, route: Huge, writer: asyncio.StreamWriter) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n"
        head += f"Content-Length: {route.size}\r\n" if route.declared else "Transfer-Encoding: chunked\r\n"
        writer.write(head.encode() + b"\r\n")
        item = b"<item><title>Bitcoin filler</title><link>https://example.com/filler</link></item>\n"
        sent = 0
        block = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>huge</title>\n' + item * 1000)[
            : route.chunk
        ]
        while sent < route.size:
            piece = block[: route.size - sent]
            writer.write(piece if route.declared else f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await writer.drain()
            sent += len(piece)
        if not route.declared:
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, status: int, body: bytes, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if status != 304:
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body if status != 304 else b""))
        await writer.drain()


ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>The upstream server is not responding.</p></body></html>"
)
TOKEN = "test-token-5f3a"
GOOD = ("/coindesk.rss", "/cointelegraph.rss", "/api/posts/")
BROKEN = ("/truncated.rss", "/error.html", "/down.rss", "/huge.rss", "/stall.rss")


def recorded_routes(news: Path) -> dict[str, Route]:
    """The recorded feeds (CoinDesk with an ETag, Cointelegraph with Last-Modified, CryptoPanic
    with neither) and the broken variants, from `../shared/data/news`."""
    coindesk = (news / "coindesk.rss").read_bytes()
    return {
        "/coindesk.rss": Static(coindesk, etag=True),
        "/cointelegraph.rss": Static((news / "cointelegraph.rss").read_bytes(), last_modified=True),
        "/api/posts/": Posts((news / "cryptopanic-posts-2018-01.json").read_bytes(), TOKEN),
        "/truncated.rss": Static(coindesk[: len(coindesk) // 2]),
        "/error.html": Static(ERROR_PAGE, content_type="text/html; charset=utf-8"),
        "/down.rss": Static(ERROR_PAGE, content_type="text/html", status=503),
        "/huge.rss": Huge(),
        "/stall.rss": Stall(),
    }


def refused_url() -> str:
    """A loopback URL where nothing listens (the port was just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.rss"


@contextlib.asynccontextmanager
async def serving(routes: dict[str, Route]) -> AsyncIterator[NewsServer]:
    server = NewsServer(routes)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
