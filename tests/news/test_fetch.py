"""Fetching over real HTTP from a loopback server: conditional GET, caps, deadlines, errors."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cryptoviz.news.errors import FeedError
from cryptoviz.news.fetch import Fetcher, Validators
from tests.fakes.news_server import Drip, Huge, NewsServer, Stall, Static, refused_url, serving

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
async def server() -> AsyncIterator[NewsServer]:
    routes = {
        "/etag.rss": Static(FEED, etag=True),
        "/modified.rss": Static(FEED, last_modified=True),
        "/plain.rss": Static(FEED),
        "/down.rss": Static(b"<html>down</html>", content_type="text/html", status=503),
        "/huge.rss": Huge(),
        "/declared.rss": Huge(size=10 * 1024 * 1024, declared=True),
        "/stall.rss": Stall(),
        "/drip.rss": Drip(interval=0.1),
    }
    async with serving(routes) as running:
        yield running


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    f = Fetcher(timeout=1.0, max_bytes=1024 * 1024)
    await f.start()
    yield f
    await f.close()


async def test_etag_then_304(server: NewsServer, fetcher: Fetcher) -> None:
    first = await fetcher.fetch(server.url("/etag.rss"), Validators())
    assert first is not None
    assert first.body == FEED
    assert first.content_type.startswith("application/rss+xml")
    assert first.validators.etag is not None
    assert first.validators.last_modified is None
    assert await fetcher.fetch(server.url("/etag.rss"), first.validators) is None
    assert server.not_modified["/etag.rss"] == 1
    route = server.routes["/etag.rss"]
    assert isinstance(route, Static)
    route.replace(FEED.replace(b"<title>t</title>", b"<title>new</title>"))
    changed = await fetcher.fetch(server.url("/etag.rss"), first.validators)
    assert changed is not None
    assert b"new" in changed.body
    assert changed.validators.etag != first.validators.etag


async def test_last_modified_then_304_and_no_validators_means_full_fetches(
    server: NewsServer, fetcher: Fetcher
) -> None:
    first = await fetcher.fetch(server.url("/modified.rss"), Validators())
    assert first is not None
    assert first.validators.last_modified is not None
    assert await fetcher.fetch(server.url("/modified.rss"), first.validators) is None
    plain = await fetcher.fetch(server.url("/plain.rss"), Validators())
    assert plain is not None
    assert plain.validators == Validators()
    assert await fetcher.fetch(server.url("/plain.rss"), plain.validators) is not None
    assert server.not_modified["/plain.rss"] == 0


async def test_http_errors_name_the_status(server: NewsServer, fetcher: Fetcher) -> None:
    with pytest.raises(FeedError, match=r"^HTTP 503 Service Unavailable$"):
        await fetcher.fetch(server.url("/down.rss"), Validators())
    with pytest.raises(FeedError, match=r"^HTTP 404 Not Found$"):
        await fetcher.fetch(server.url("/missing.rss"), Validators())


async def test_a_streamed_10_mb_body_is_cut_at_the_cap(server: NewsServer, fetcher: Fetcher) -> None:
    with pytest.raises(FeedError, match=r"body over the 1048576-byte cap \(`max_bytes`\): cut there"):
        await fetcher.fetch(server.url("/huge.rss"), Validators())


async def test_a_declared_10_mb_body_is_refused_before_reading(server: NewsServer, fetcher: Fetcher) -> None:
    with pytest.raises(FeedError, match=r"body of 10485760 bytes is over the 1048576-byte cap"):
        await fetcher.fetch(server.url("/declared.rss"), Validators())


async def test_a_stalled_server_times_out_while_it_is_still_stalling(
    server: NewsServer, fetcher: Fetcher
) -> None:
    with pytest.raises(FeedError, match=r"^no complete response within 1s$"):
        await fetcher.fetch(server.url("/stall.rss"), Validators())
    assert server.stalls_open == 1  # the server is still in its 30 s stall: we did not wait for it


async def test_a_trickling_server_hits_the_overall_deadline(server: NewsServer, fetcher: Fetcher) -> None:
    # One byte every 0.1 s never trips a read timeout; the overall deadline still ends it.
    with pytest.raises(FeedError, match=r"no complete response within 1s"):
        await fetcher.fetch(server.url("/drip.rss"), Validators())


async def test_connection_refused(fetcher: Fetcher) -> None:
    with pytest.raises(FeedError, match=r"^request failed: "):
        await fetcher.fetch(refused_url(), Validators())


async def test_local_files_are_read_with_a_stamp_for_unchanged(tmp_path: Path, fetcher: Fetcher) -> None:
    path = tmp_path / "feed.rss"
    path.write_bytes(FEED)
    first = await fetcher.fetch(str(path), Validators())
    assert first is not None
    assert first.body == FEED
    assert first.validators.stamp is not None
    assert await fetcher.fetch(f"file://{path}", first.validators) is None
    path.write_bytes(FEED + b"\n")
    os.utime(path, ns=(1, 1))
    assert await fetcher.fetch(str(path), first.validators) is not None


async def test_local_file_errors(tmp_path: Path, fetcher: Fetcher) -> None:
    with pytest.raises(FeedError, match=r"cannot read .*missing\.rss: No such file or directory"):
        await fetcher.fetch(str(tmp_path / "missing.rss"), Validators())
    big = tmp_path / "big.rss"
    big.write_bytes(b" " * (1024 * 1024 + 1))
    with pytest.raises(FeedError, match=r"file of 1048577 bytes is over the 1048576-byte cap"):
        await fetcher.fetch(str(big), Validators())


async def test_fetching_before_start_is_an_error() -> None:
    with pytest.raises(FeedError, match="not started"):
        await Fetcher(timeout=1, max_bytes=1024).fetch("http://127.0.0.1:9/x", Validators())
