"""Liveness and readiness, with the real runtime started by the app's lifespan."""

from __future__ import annotations

import asyncio
import re
import warnings
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from cryptoviz.app import create_app
from tests.conftest import make_config

# Product bug shown by test_app_builds_with_deprecation_warnings_as_errors below: the handlers use
# Litestar 2.25's deprecated inferred parameters; ignored here, narrowly (that test re-enables them).
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")


def _app(tmp_path: Path, **overrides: str) -> Litestar:
    overrides.setdefault("PLUGINS__ENABLED", '["trades", "candles"]')
    return create_app(make_config(tmp_path, **overrides))


def _ok_data(response: Any) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "data", "timestamp"}
    assert body["success"] is True
    assert RFC3339.match(body["timestamp"])
    return body["data"]


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error", "timestamp"}
    assert body["success"] is False
    assert RFC3339.match(body["timestamp"])
    assert body["error"]["code"] == code
    error: dict[str, Any] = body["error"]
    return error


def test_app_builds_with_deprecation_warnings_as_errors(tmp_path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _app(tmp_path)


async def test_health_is_alive(tmp_path) -> None:
    async with AsyncTestClient(_app(tmp_path)) as client:
        assert _ok_data(await client.get("/health")) == {"status": "ok"}


async def test_ready_details_every_part_when_running(tmp_path) -> None:
    async with AsyncTestClient(_app(tmp_path)) as client:
        data = _ok_data(await client.get("/ready"))
    assert data["status"] == "ready"
    assert data["storage"] == {"ok": True, "backend": "sqlite"}
    assert data["dedup"]["ok"] is True
    assert data["dedup"]["backend"] == "memory"
    assert data["bus"]["ok"] is True
    assert data["bus"]["backend"] == "memory"
    assert isinstance(data["bus"]["queues"], dict)
    assert data["bus"]["queues"]
    assert set(data["plugins"]) == {"trades", "candles"}
    assert all(part["ok"] is True for part in data["plugins"].values())


async def test_ready_is_503_naming_the_storage_once_it_is_closed(tmp_path) -> None:
    app = _app(tmp_path)
    async with AsyncTestClient(app) as client:
        _ok_data(await client.get("/ready"))
        await app.state.runtime.storage.close()
        error = _error(await client.get("/ready"), 503, "not_ready")
        assert "storage" in error["message"]
        assert error["details"]["storage"]["ok"] is False
        assert error["details"]["storage"]["error"]
        assert error["details"]["dedup"]["ok"] is True
        # liveness is unaffected, and data routes say 503, never 500
        assert _ok_data(await client.get("/health")) == {"status": "ok"}
        _error(await client.get("/api/v1/symbols"), 503, "storage_unavailable")
        _error(await client.get("/api/v1/crypto/BTCUSDT/latest"), 503, "storage_unavailable")


async def test_ready_is_503_naming_a_failing_plugin(tmp_path) -> None:
    """A replay collector whose file cannot be read reports itself failing."""
    app = _app(
        tmp_path,
        PLUGINS__ENABLED='["replay", "trades", "candles"]',
        PLUGINS__REPLAY__FILES=f'["{tmp_path / "missing.jsonl"}"]',
    )
    async with AsyncTestClient(app) as client:
        await asyncio.wait_for(app.state.runtime.instances["replay"].done.wait(), 10)
        error = _error(await client.get("/ready"), 503, "not_ready")
        assert "plugins.replay" in error["message"]
        assert "storage" not in error["message"]
        assert error["details"]["plugins"]["replay"]["ok"] is False
        assert error["details"]["plugins"]["trades"]["ok"] is True
