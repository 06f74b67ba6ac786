"""The `dashboard` plugin in the real app: the page at /, its files, the single-page
fallback that never answers for the API, and a clear error when nothing was built."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from cryptoviz.app import create_app
from tests.conftest import make_config

INDEX = (
    "<!doctype html><title>CryptoViz</title><div id=app></div>"
    "<script type=module src=/assets/app-1a2b.js></script>"
)
SCRIPT = "console.log('cryptoviz')\n" * 50


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    """A built dashboard as Vite lays it out: index.html, hashed assets, gzip twins."""
    root = tmp_path / "dashboard"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "app-1a2b.js").write_text(SCRIPT)
    (root / "assets" / "app-1a2b.js.gz").write_bytes(gzip.compress(SCRIPT.encode()))
    (tmp_path / "secret.txt").write_text("outside the dashboard folder")
    return root.resolve()


def _app(tmp_path: Path, assets: Path) -> Litestar:
    return create_app(
        make_config(
            tmp_path,
            PLUGINS__ENABLED='["trades", "candles", "dashboard"]',
            PLUGINS__DASHBOARD__ASSETS=str(assets),
        )
    )


async def test_page_at_root_and_as_fallback_for_the_pages_own_urls(tmp_path: Path, assets: Path) -> None:
    async with AsyncTestClient(_app(tmp_path, assets)) as client:
        for path in ("/", "/?symbol=BTCUSDT&interval=1m", "/index.html", "/charts/BTCUSDT"):
            response = await client.get(path, headers={"accept-encoding": "identity"})
            assert response.status_code == 200, path
            assert response.text == INDEX
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["cache-control"] == "no-cache"
            assert "default-src 'self'" in response.headers["content-security-policy"]


async def test_hashed_assets_cached_for_good_and_gzipped_when_asked(tmp_path: Path, assets: Path) -> None:
    async with AsyncTestClient(_app(tmp_path, assets)) as client:
        plain = await client.get("/assets/app-1a2b.js", headers={"accept-encoding": "identity"})
        assert plain.status_code == 200
        assert plain.text == SCRIPT
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "javascript" in plain.headers["content-type"]
        assert "content-encoding" not in plain.headers
        zipped = await client.get("/assets/app-1a2b.js", headers={"accept-encoding": "gzip, br"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
        assert zipped.text == SCRIPT  # httpx inflates it
        assert int(zipped.headers["content-length"]) < len(SCRIPT)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nope", "/api/v2/symbols", "/api", "/ws/nope", "/ready/now", "/health/x"],
)
async def test_never_answers_for_the_api(tmp_path: Path, assets: Path, path: str) -> None:
    async with AsyncTestClient(_app(tmp_path, assets)) as client:
        response = await client.get(path)
    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "not_found"


async def test_api_routes_and_methods_unchanged(tmp_path: Path, assets: Path) -> None:
    async with AsyncTestClient(_app(tmp_path, assets)) as client:
        assert (await client.get("/health")).json()["data"] == {"status": "ok"}
        ready = (await client.get("/ready")).json()["data"]
        assert ready["plugins"]["dashboard"] == {"ok": True, "assets": str(assets)}
        assert (await client.post("/api/v1/symbols")).status_code == 405
        assert (await client.put("/health")).status_code == 405
        schema = (await client.get("/schema/openapi.json")).json()
        assert "/{path}" not in schema["paths"]
        assert "/api/v1/symbols" in schema["paths"]


@pytest.mark.parametrize(
    "path",
    [
        "/assets/missing-9z.js",
        "/favicon.ico",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
    ],
)
async def test_missing_files_are_404_and_nothing_outside_is_served(
    tmp_path: Path, assets: Path, path: str
) -> None:
    async with AsyncTestClient(_app(tmp_path, assets)) as client:
        response = await client.get(path)
    assert "outside the dashboard folder" not in response.text
    assert response.status_code in (200, 404)
    if response.status_code == 200:  # a path that normalises back inside gets the page
        assert response.text == INDEX


async def test_not_built_is_said_in_ready_and_on_the_page(tmp_path: Path) -> None:
    empty = tmp_path / "never-built"
    async with AsyncTestClient(_app(tmp_path, empty)) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert "plugins.dashboard" in body["error"]["message"]
        problem = body["error"]["details"]["plugins"]["dashboard"]["error"]
        assert str(empty.resolve()) in problem
        assert "make web" in problem
        page = await client.get("/")
        assert page.status_code == 503
        assert "Dashboard not built" in page.text
        assert "make web" in page.text
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/api/v1/symbols")).status_code == 200


def test_app_with_the_dashboard_builds_with_warnings_as_errors(tmp_path: Path, assets: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _app(tmp_path, assets)
