"""News routes over a database filled by the real news plugin from the recorded feeds, and /ready
with broken feeds."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient, TestClient

from cryptoviz.app import create_app
from cryptoviz.config import Config
from cryptoviz.plugin import discover, select
from cryptoviz.runtime import Runtime
from tests.conftest import make_config
from tests.fakes.news_server import TOKEN, recorded_routes, serving

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
FIELDS = {"id", "title", "url", "source", "published_at", "summary", "symbols", "sentiment"}


def feed_config(tmp_path: Path, url: Any, feeds: list[str], **extra: str) -> Config:
    settings = {
        "FEEDS": json.dumps([url(f) for f in feeds]), "POLL_SECONDS": "0.2", "TIMEOUT_SECONDS": "3",
        "MAX_BYTES": "1000000", "RETRY_BASE_SECONDS": "0.05", "RETRY_CAP_SECONDS": "1",
        "CRYPTOPANIC_TOKEN": f'"{TOKEN}"', "CRYPTOPANIC_URL": url("/api/posts/"), **extra,
    }  # fmt: skip
    return make_config(
        tmp_path, PLUGINS__ENABLED='["news"]', **{f"PLUGINS__NEWS__{k}": v for k, v in settings.items()}
    )


async def _collect(news: Path, tmp_path: Path) -> None:
    async with serving(recorded_routes(news)) as server:
        config = feed_config(tmp_path, server.url, ["/coindesk.rss", "/cointelegraph.rss"])
        runtime = Runtime(config, select(config, discover()))
        await runtime.start()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while runtime.instances["news"].status()["stored"] < 95:
                assert loop.time() < deadline, "the recorded feeds were not stored"
                await asyncio.sleep(0.05)
        finally:
            await runtime.stop()


@pytest.fixture(scope="module")
def client(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    tmp = tmp_path_factory.mktemp("news-api")
    asyncio.run(_collect(testdata / "news", tmp))
    with TestClient(create_app(make_config(tmp, PLUGINS__ENABLED="[]"))) as test_client:
        yield test_client


def ms(text: str) -> int:
    assert RFC3339.match(text), text
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def data_of(client: TestClient[Any], url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "data", "timestamp"}
    assert body["success"] is True
    return body["data"]


def error_of(client: TestClient[Any], url: str, status: int, code: str) -> str:
    response = client.get(url)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    return message


def test_latest_default_limit_newest_first_with_every_field(client: TestClient[Any]) -> None:
    data = data_of(client, "/api/v1/news")
    assert set(data) == {"data"}
    items = data["data"]
    assert len(items) == 50
    times = [ms(i["published_at"]) for i in items]
    assert times == sorted(times, reverse=True)
    for item in items:
        assert set(item) == FIELDS
        assert type(item["sentiment"]) is float
        assert -1 <= item["sentiment"] <= 1
        assert all(isinstance(s, str) for s in item["symbols"])
        assert item["url"].startswith("https://")
        assert "utm_" not in item["url"]
    assert data_of(client, "/api/v1/news/")["data"] == items


def test_limit_bounds(client: TestClient[Any]) -> None:
    everything = data_of(client, "/api/v1/news?limit=500")["data"]
    assert len(everything) == 95
    assert len({i["id"] for i in everything}) == 95
    assert data_of(client, "/api/v1/news?limit=3")["data"] == everything[:3]
    for bad in ("0", "501", "abc", "", "-1"):
        assert "limit" in error_of(client, f"/api/v1/news?limit={bad}", 400, "invalid_limit")


def test_since_in_rfc3339_or_epoch_ms_is_inclusive(client: TestClient[Any]) -> None:
    everything = data_of(client, "/api/v1/news?limit=500")["data"]
    pivot = everything[40]["published_at"]
    expected = [i for i in everything if ms(i["published_at"]) >= ms(pivot)]
    assert 40 < len(expected) < 95
    assert data_of(client, f"/api/v1/news?limit=500&since={pivot}")["data"] == expected
    assert data_of(client, f"/api/v1/news?limit=500&since={ms(pivot)}")["data"] == expected
    for bad in ("yesterday", "2025-12-12T16:00:00", "99999999999999999"):
        assert error_of(client, f"/api/v1/news?since={bad}", 400, "invalid_timestamp").startswith("since: ")


def test_one_recorded_article_as_served(client: TestClient[Any]) -> None:
    everything = data_of(client, "/api/v1/news?limit=500")["data"]
    (item,) = [i for i in everything if "figure-technology-solana" in i["url"]]
    assert item["url"] == "https://cointelegraph.com/news/figure-technology-solana-onchain-equity-second-ipo"
    assert (
        item["title"]
        == "Figure Technology files \u2018second IPO\u2019 to bring native equity issuance to Solana"
    )
    assert item["source"] == "cointelegraph.com"
    assert item["published_at"] == "2025-12-12T16:57:28Z"
    assert item["summary"].startswith("Figure is planning a second IPO")
    assert item["symbols"] == ["SOLUSDT"]
    assert re.fullmatch(r"[0-9a-f]{32}", item["id"])


def test_by_symbol(client: TestClient[Any]) -> None:
    everything = data_of(client, "/api/v1/news?limit=500")["data"]
    data = data_of(client, "/api/v1/news/btcusdt?limit=500")
    assert set(data) == {"symbol", "data"}
    assert data["symbol"] == "BTCUSDT"
    assert data["data"] == [i for i in everything if "BTCUSDT" in i["symbols"]]
    assert len(data["data"]) >= 10
    assert data_of(client, "/api/v1/news/BTCUSDT?limit=2")["data"] == data["data"][:2]
    since = data["data"][3]["published_at"]
    assert data_of(client, f"/api/v1/news/BTCUSDT?limit=500&since={since}")["data"] == [
        i for i in data["data"] if ms(i["published_at"]) >= ms(since)
    ]
    assert data_of(client, "/api/v1/news/ZZZUSDT") == {"symbol": "ZZZUSDT", "data": []}


def test_bad_symbol_parameters_and_routes(client: TestClient[Any]) -> None:
    error_of(client, "/api/v1/news/BTC-USD", 400, "invalid_symbol")
    error_of(client, "/api/v1/news/BTCUSDT?limit=1000", 400, "invalid_limit")
    error_of(client, "/api/v1/news/BTCUSDT?since=soon", 400, "invalid_timestamp")
    error_of(client, "/api/v1/news/BTCUSDT/more", 404, "not_found")


def test_openapi_lists_the_news_routes(client: TestClient[Any]) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert "/api/v1/news" in paths
    assert "/api/v1/news/{symbol}" in paths


async def test_ready_stays_ready_and_details_the_broken_feeds(testdata: Path, tmp_path: Path) -> None:
    async with serving(recorded_routes(testdata / "news")) as server:
        feeds = ["/coindesk.rss", "/error.html", "/down.rss", "/truncated.rss"]
        app = create_app(feed_config(tmp_path, server.url, feeds))
        async with AsyncTestClient(app) as client:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while True:
                response = await client.get("/ready")
                news = response.json()["data"]["plugins"]["news"]
                if len(news["failing_feeds"]) == 3 and news["stored"] == 65:
                    break
                assert loop.time() < deadline, news
                await asyncio.sleep(0.05)
            latest = (await client.get("/api/v1/news?limit=500")).json()["data"]["data"]
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "ready"
    assert news["ok"] is True
    assert sorted(news["failing_feeds"]) == sorted(server.url(f) for f in feeds[1:])
    states = {f["feed"]: f for f in news["feeds"]}
    assert states[server.url("/coindesk.rss")]["state"] == "ok"
    assert states["cryptopanic"]["state"] == "ok"
    assert states[server.url("/down.rss")]["last_error"] == "HTTP 503 Service Unavailable"
    assert states[server.url("/error.html")]["last_error"] == "not an RSS or Atom feed (text/html)"
    assert RFC3339.match(states[server.url("/down.rss")]["last_error_at"])
    assert RFC3339.match(states[server.url("/coindesk.rss")]["last_success"])
    assert len(latest) == 65
