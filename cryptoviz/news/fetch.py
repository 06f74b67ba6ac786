"""Fetch a feed document: over HTTP with conditional GET, or from a local file.

Every fetch is bounded in time (one deadline for connect, headers and body, so a server
that trickles bytes cannot hold it either) and in size (the body is streamed and cut at
`max_bytes`, decompressed size included). A 304, or a local file whose size and mtime
are unchanged, means "nothing new" and costs no parsing.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import httpx
import msgspec

from cryptoviz import __version__
from cryptoviz.news.errors import FeedError

USER_AGENT = f"CryptoViz/{__version__} (news collector)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
MAX_VALIDATOR_LENGTH = 512


class Validators(msgspec.Struct, frozen=True):
    """What the last good fetch gave for conditional requests: ETag and Last-Modified over
    HTTP, (mtime ns, size) for a local file."""

    etag: str | None = None
    last_modified: str | None = None
    stamp: tuple[int, int] | None = None


class Fetched(msgspec.Struct, frozen=True):
    body: bytes
    content_type: str
    validators: Validators


def is_http(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))


def local_path(target: str) -> Path:
    return Path(target[len("file://") :] if target.lower().startswith("file://") else target)


def _validator(value: str | None) -> str | None:
    return value if value and len(value) <= MAX_VALIDATOR_LENGTH else None


class _Redactor(logging.Filter):
    """Hides secrets (an API token in a query string) in the HTTP client's own request log,
    which names every URL it fetches at INFO."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


class Fetcher:
    """One HTTP client (connection pool) shared by every feed; open between `start` and `close`.

    While open, `secrets` are masked in the records of the `httpx` logger.
    """

    def __init__(self, *, timeout: float, max_bytes: int, secrets: Sequence[str] = ()) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client: httpx.AsyncClient | None = None
        self._redactor = _Redactor(secrets)

    async def start(self) -> None:
        if self._redactor.secrets:
            logging.getLogger("httpx").addFilter(self._redactor)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        logging.getLogger("httpx").removeFilter(self._redactor)

    async def fetch(self, target: str, previous: Validators) -> Fetched | None:
        """The document at `target`, or None when unchanged since `previous`. Raises FeedError."""
        if is_http(target):
            return await self._fetch_http(target, previous)
        return await asyncio.to_thread(self._read_local, local_path(target), previous)

    async def _fetch_http(self, url: str, previous: Validators) -> Fetched | None:
        if self._client is None:
            raise FeedError("the news fetcher is not started")
        headers = {}
        if previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
        try:
            async with asyncio.timeout(self.timeout):
                return await self._request(self._client, url, headers)
        except (TimeoutError, httpx.TimeoutException):
            raise FeedError(f"no complete response within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            raise FeedError(f"request failed: {detail[:300]}") from None

    async def _request(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Fetched | None:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return None
            if response.status_code != 200:
                raise FeedError(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FeedError(
                    f"body of {int(declared)} bytes is over the {self.max_bytes}-byte cap (`max_bytes`)"
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise FeedError(f"body over the {self.max_bytes}-byte cap (`max_bytes`): cut there")
            validators = Validators(
                _validator(response.headers.get("etag")), _validator(response.headers.get("last-modified"))
            )
            return Fetched(bytes(body), response.headers.get("content-type", ""), validators)

    def _read_local(self, path: Path, previous: Validators) -> Fetched | None:
        try:
            with path.open("rb") as file:
                info = os.fstat(file.fileno())
                stamp = (info.st_mtime_ns, info.st_size)
                if previous.stamp == stamp:
                    return None
                if info.st_size > self.max_bytes:
                    raise FeedError(f"file of {info.st_size} bytes is over the {self.max_bytes}-byte cap")
                body = file.read(self.max_bytes + 1)
        except OSError as exc:
            raise FeedError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(body) > self.max_bytes:
            raise FeedError(f"file over the {self.max_bytes}-byte cap (`max_bytes`)")
        return Fetched(body, "", Validators(stamp=stamp))
