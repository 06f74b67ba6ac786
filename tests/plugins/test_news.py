"""The news plugin end to end: real HTTP from a loopback server, the real bus and SQLite.

The server serves the recorded CoinDesk, Cointelegraph and CryptoPanic documents and the
broken variants (truncated XML, an HTML error page, a 503, a 10 MB body, a 30 s stall),
plus a port where nothing listens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptoviz_plugins.news import NewsPlugin

from cryptoviz.config import Config
from cryptoviz.errors import BusClosed, ConfigError
from cryptoviz.models import TOPIC_NEWS, NewsItem
from cryptoviz.news.canonical import canonical_url, news_id
from cryptoviz.plugin import discover, select
from cryptoviz.runtime import Runtime
from tests.conftest import make_config
from tests.fakes.news_server import TOKEN, NewsServer, Stall, Static, recorded_routes, refused_url, serving

DEADLINE = 90.0  # a guard against hanging, never a speed requirement
BROKEN_ERRORS = {
    "/truncated.rss": r"^malformed feed \(.* at line \d+\): kept \d+ of \d+ entries$",
    "/error.html": r"^not an RSS or Atom feed \(text/html\)$",
    "/down.rss": r"^HTTP 503 Service Unavailable$",
    "/huge.rss": r"^body over the 1000000-byte cap \(`max_bytes`\): cut there$",
    "/stall.rss": r"^no complete response within 3s$",
}


def expected_ids(news: Path) -> set[str]:
    """Ids of every good article, read from the recorded files without the product's parsers."""
    links = [
        (item.findtext("link") or "").strip()
        for name in ("coindesk.rss", "cointelegraph.rss")
        for item in ET.parse(news / name).getroot().iter("item")
    ]
    posts = json.loads((news / "cryptopanic-posts-2018-01.json").read_text(encoding="utf-8"))["results"]
    links += [post["url"] for post in posts]
    assert len(links) == 95
    return {news_id(canonical_url(link) or "") for link in links}


def news_config(
    tmp_path: Path, server: NewsServer, feeds: list[str], *, top: dict[str, str] | None = None, **extra: str
) -> Config:
    """The news plugin alone, polling `feeds` fast; `extra` are its keys, `top` other sections'."""
    settings = {
        "FEEDS": json.dumps(feeds), "POLL_SECONDS": "0.1", "TIMEOUT_SECONDS": "3.0", "MAX_BYTES": "1000000",
        "RETRY_BASE_SECONDS": "0.05", "RETRY_CAP_SECONDS": "1.0", "CRYPTOPANIC_TOKEN": f'"{TOKEN}"',
        "CRYPTOPANIC_URL": server.url("/api/posts/"), **extra,
    }  # fmt: skip
    env = {f"PLUGINS__NEWS__{k}": v for k, v in settings.items()}
    return make_config(tmp_path, PLUGINS__ENABLED='["news"]', **env, **(top or {}))


class Observer:
    """Another consumer group on `crypto.news`, as the hub is: what subscribers would be pushed."""

    def __init__(self, runtime: Runtime) -> None:
        self.items: list[NewsItem] = []
        self._sub = runtime.bus.subscribe([TOPIC_NEWS], "observer", NewsItem)
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                _topic, items = await self._sub.get()
            except BusClosed:
                return
            self.items.extend(items)
            await self._sub.commit()


@pytest.fixture
async def server(testdata: Path) -> AsyncIterator[NewsServer]:
    async with serving(recorded_routes(testdata / "news")) as running:
        yield running


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < deadline, f"still waiting for: {what}"
        await asyncio.sleep(0.02)


def plugin_of(runtime: Runtime) -> NewsPlugin:
    instance = runtime.instances["news"]
    assert isinstance(instance, NewsPlugin)
    return instance


def feed_states(plugin: NewsPlugin) -> dict[str, dict[str, Any]]:
    return {f["feed"]: f for f in plugin.status()["feeds"]}


def stored_ids(runtime: Runtime) -> list[str]:
    with sqlite3.connect(runtime.config.storage.sqlite_path) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM news")]


async def running(config: Config) -> tuple[Runtime, Observer]:
    runtime = Runtime(config, select(config, discover()))
    observer = Observer(runtime)
    await runtime.start()
    return runtime, observer


async def stopped(runtime: Runtime, observer: Observer) -> None:
    await runtime.stop()
    await asyncio.wait_for(observer.task, 10)


async def test_good_items_once_however_often_polled_and_broken_feeds_reported(
    tmp_path: Path, testdata: Path, server: NewsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the HTTP client logs every URL it fetches at INFO
    good = [
        server.url("/coindesk.rss"),
        server.url("/cointelegraph.rss"),
        str(testdata / "news" / "coindesk.rss"),
    ]
    broken = [server.url(path) for path in BROKEN_ERRORS] + [refused_url()]
    runtime, observer = await running(news_config(tmp_path, server, good + broken))
    plugin = plugin_of(runtime)
    good_names = [*good, "cryptopanic"]

    def settled() -> bool:
        states = feed_states(plugin)
        return (
            plugin.stored == 95
            and all(states[n]["state"] == "ok" and states[n]["polls"] >= 6 for n in good_names)
            and all(states[n]["state"] == "failing" for n in broken)
            and server.not_modified["/coindesk.rss"] >= 3
            and server.not_modified["/cointelegraph.rss"] >= 3
        )

    try:
        await until(settled, "every good item stored, good feeds polled again and again, broken ones failing")
        ready, details = await runtime.readiness()
        status = plugin.status()
    finally:
        await stopped(runtime, observer)

    assert sorted(stored_ids(runtime)) == sorted(expected_ids(testdata / "news"))
    assert sorted(i.id for i in observer.items) == sorted(expected_ids(testdata / "news"))  # pushed once each
    assert (status["published"], status["received"], status["duplicates"]) == (95, 95, 0)
    assert (status["stored"], status["rejected"], status["pending"]) == (95, 0, 0)

    # A failing feed is reported, not fatal: the appliance stays ready and names it.
    assert ready is True
    assert details["plugins"]["news"]["ok"] is True
    assert sorted(status["failing_feeds"]) == sorted(broken)
    states = {f["feed"]: f for f in status["feeds"]}
    for path, pattern in BROKEN_ERRORS.items():
        state = states[server.url(path)]
        assert state["consecutive_failures"] >= 1
        assert state["last_success"] is None
        assert state["last_error"] is not None
        assert re.match(pattern, state["last_error"]), (path, state["last_error"])
    assert states[broken[-1]]["last_error"].startswith("request failed: ")
    assert states[server.url("/truncated.rss")]["items_seen"] > 0  # its complete items were read
    for name in good_names:
        assert states[name]["last_error"] is None
        assert states[name]["consecutive_failures"] == 0
    assert states[server.url("/coindesk.rss")]["not_modified"] >= 3
    assert states[str(testdata / "news" / "coindesk.rss")]["not_modified"] >= 3  # unchanged local file

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in broken:
        assert any(m.startswith(f"news feed {name} failing: ") for m in warnings), name
    assert TOKEN not in json.dumps(status)
    assert TOKEN not in caplog.text
    assert "auth_token=***" in caplog.text


async def test_a_stalled_feed_holds_up_no_other(tmp_path: Path, testdata: Path, server: NewsServer) -> None:
    """The stall lasts 30 s and the deadline is longer: the other feeds are stored meanwhile."""
    feeds = [server.url("/stall.rss"), server.url("/coindesk.rss"), server.url("/cointelegraph.rss")]
    config = news_config(tmp_path, server, feeds, TIMEOUT_SECONDS="60", CRYPTOPANIC_TOKEN='""')
    runtime, observer = await running(config)
    plugin = plugin_of(runtime)
    try:
        await until(lambda: plugin.stored == 55, "CoinDesk and Cointelegraph stored")
        assert server.stalls_open == 1
        stalled = feed_states(plugin)[server.url("/stall.rss")]
        assert (stalled["polls"], stalled["failures"], stalled["state"]) == (0, 0, "pending")
    finally:
        await stopped(runtime, observer)
    assert len(observer.items) == 55


async def test_restart_publishes_nothing_already_stored_and_new_articles_arrive(
    tmp_path: Path, testdata: Path, server: NewsServer
) -> None:
    feeds = [server.url("/coindesk.rss"), server.url("/cointelegraph.rss")]
    config = news_config(tmp_path, server, feeds)
    runtime, observer = await running(config)
    await until(lambda: plugin_of(runtime).stored == 95, "first run stored everything")
    await stopped(runtime, observer)

    hits_before = server.hits["/coindesk.rss"]
    runtime, observer = await running(config)  # validators are lost: the first polls are full fetches
    plugin = plugin_of(runtime)
    try:
        await until(
            lambda: all(f["polls"] >= 3 for f in plugin.status()["feeds"]),
            "every feed polled again after restart",
        )
        assert server.hits["/coindesk.rss"] > hits_before
        assert (plugin.published, plugin.stored, observer.items) == (0, 0, [])

        route = server.routes["/coindesk.rss"]
        assert isinstance(route, Static)
        fresh = (
            b"<item><title>Bitcoin Surges to a Record as ETF Demand Soars</title>"
            b"<link>https://www.coindesk.com/markets/2025/12/13/bitcoin-record?utm_source=rss</link>"
            b"<pubDate>Sat, 13 Dec 2025 10:00:00 +0000</pubDate>"
            b"<description><![CDATA[<p>Great gains for <b>BTC</b> holders.</p>]]></description></item>"
        )
        route.replace(route.body.replace(b"<item>", fresh + b"<item>", 1))
        await until(lambda: plugin.stored == 1, "the new article stored")
    finally:
        await stopped(runtime, observer)
    assert len(stored_ids(runtime)) == 96
    (item,) = observer.items
    assert item.url == "https://www.coindesk.com/markets/2025/12/13/bitcoin-record"
    assert item.title == "Bitcoin Surges to a Record as ETF Demand Soars"
    assert item.summary == "Great gains for BTC holders."
    assert item.source == "coindesk.com"
    assert item.symbols == ["BTCUSDT"]
    assert item.sentiment > 0.5
    assert item.published_at == 1765620000000


async def test_stop_stores_what_was_published_but_not_yet_written(tmp_path: Path, server: NewsServer) -> None:
    """The plugin is a collector, stopped before the bus drains: its store role still writes
    everything published, when the runtime drains."""
    feeds = [server.url("/coindesk.rss"), server.url("/cointelegraph.rss")]
    config = news_config(tmp_path, server, feeds, top={"STORAGE__FLUSH_MS": "60000"}, CRYPTOPANIC_TOKEN='""')
    runtime, observer = await running(config)
    plugin = plugin_of(runtime)
    try:
        await until(lambda: plugin.published == 55 and plugin.status()["pending"] == 55, "all published")
        assert plugin.stored == 0  # held: the oldest is far younger than flush_ms
    finally:
        await stopped(runtime, observer)
    assert plugin.stored == 55
    assert len(stored_ids(runtime)) == 55


async def test_a_feed_that_comes_back_recovers(
    tmp_path: Path, testdata: Path, server: NewsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cryptoviz.news")
    route = server.routes["/down.rss"]
    assert isinstance(route, Static)
    config = news_config(tmp_path, server, [server.url("/down.rss")], CRYPTOPANIC_TOKEN='""')
    runtime, observer = await running(config)
    plugin = plugin_of(runtime)
    try:
        await until(lambda: plugin.status()["feeds"][0]["consecutive_failures"] >= 3, "three failures")
        route.status, route.body = 200, (testdata / "news" / "cointelegraph.rss").read_bytes()
        route.content_type = "application/rss+xml"
        await until(lambda: plugin.stored == 30, "the feed's items once it works")
        state = plugin.status()["feeds"][0]
    finally:
        await stopped(runtime, observer)
    assert state["state"] == "ok"
    assert state["failures"] >= 3
    assert state["consecutive_failures"] == 0
    assert state["last_error"] == "HTTP 503 Service Unavailable"  # the last one, kept for the record
    warnings = [r for r in caplog.records if "failing" in r.getMessage()]
    assert len(warnings) == 1  # the same error is logged once, not at every retry
    assert any("works again after" in r.getMessage() for r in caplog.records)


async def test_cryptopanic_with_a_wrong_token_is_reported_without_the_token(
    tmp_path: Path, server: NewsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret = "wrong-secret-token-77"
    config = news_config(tmp_path, server, [], CRYPTOPANIC_TOKEN=f'"{secret}"')
    runtime, observer = await running(config)
    plugin = plugin_of(runtime)
    try:
        await until(lambda: plugin.status()["feeds"][0]["consecutive_failures"] >= 1, "a failed poll")
        status = plugin.status()
    finally:
        await stopped(runtime, observer)
    (state,) = status["feeds"]
    assert state["feed"] == "cryptopanic"
    assert state["last_error"] == "HTTP 401 Unauthorized"
    assert f"auth_token={secret}" in server.queries[0]
    assert "public=true" in server.queries[0]
    assert secret not in json.dumps(status)
    assert secret not in caplog.text
    assert "auth_token=***&public=true" in caplog.text  # the request was logged, masked


def test_no_token_no_cryptopanic_and_feed_names_hide_credentials() -> None:
    from cryptoviz_plugins.news import NewsConfig

    plugin = NewsPlugin(NewsConfig(feeds=["https://user:pw@example.com/rss?key=abc", "/var/feeds/local.xml"]))
    assert [s.name for s in plugin.feed_specs()] == ["https://example.com/rss?key=…", "/var/feeds/local.xml"]
    plugin = NewsPlugin(NewsConfig(feeds=[], cryptopanic_token="t0k"))
    (spec,) = plugin.feed_specs()
    assert (spec.name, spec.kind, spec.secret) == ("cryptopanic", "cryptopanic", "t0k")
    assert spec.target == "https://cryptopanic.com/api/developer/v2/posts/?auth_token=t0k&public=true"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"PLUGINS__NEWS__FEEDS": '["ftp://example.com/rss"]'},
            "`plugins.news.feeds.0` = 'ftp://example.com/rss'",
        ),
        ({"PLUGINS__NEWS__FEEDS": '[""]'}, "`plugins.news.feeds.0` = ''"),
        ({"PLUGINS__NEWS__POLL_SECONDS": "0"}, "`plugins.news.poll_seconds` = 0"),
        ({"PLUGINS__NEWS__MAX_BYTES": "10"}, "`plugins.news.max_bytes` = 10"),
        ({"PLUGINS__NEWS__CRYPTOPANIC_URL": "cryptopanic.com"}, "`plugins.news.cryptopanic_url`"),
        ({"PLUGINS__NEWS__KEYWORDS__BTC_USD": '["btc"]'}, "plugins.news.keywords"),
        ({"PLUGINS__NEWS__COLOUR": "1"}, "unknown key `plugins.news.colour`"),
    ],
)
def test_bad_configuration_is_refused_naming_the_key(
    tmp_path: Path, overrides: dict[str, str], expected: str
) -> None:
    config = make_config(tmp_path, PLUGINS__ENABLED='["news"]', **overrides)
    with pytest.raises(ConfigError) as info:
        select(config, discover())
    assert expected in str(info.value)


def test_keywords_from_the_environment_are_case_insensitive_symbols(tmp_path: Path) -> None:
    config = make_config(tmp_path, PLUGINS__ENABLED='["news"]', PLUGINS__NEWS__KEYWORDS__PEPEUSDT='["pepe"]')
    (loaded,) = select(config, discover())
    plugin = loaded.create()
    assert isinstance(plugin, NewsPlugin)
    assert plugin.tagger.tag(["PEPE and Bitcoin"]) == ["BTCUSDT", "PEPEUSDT"]


async def test_stall_route_really_stalls(server: NewsServer) -> None:
    """The fake's stall is real: a client waiting on it gets nothing."""
    route = server.routes["/stall.rss"]
    assert isinstance(route, Stall)
    assert route.seconds == 30.0
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /stall.rss HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    writer.close()
    await writer.wait_closed()
