"""GET /api/v1/indicators/{symbol}/{type} over a database filled by replaying the XRPETH recording."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from cryptoviz.app import create_app
from cryptoviz.replay.command import _replay, replay_plugins
from tests.conftest import make_config

XRP = "binance/XRPETH-aggTrades-2019-10-11_13.csv"
HOUR = 3_600_000
SHAPES = {
    "rsi": {"ts", "value"},
    "momentum": {"ts", "value"},
    "macd": {"ts", "value", "signal", "histogram"},
    "bollinger": {"ts", "value", "upper", "lower"},
}


@pytest.fixture(scope="module")
def db_and_client(
    testdata: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, TestClient[Any]]]:
    config = make_config(
        tmp_path_factory.mktemp("indicators-api"),
        PLUGINS__ENABLED='["trades", "candles", "indicators"]',
        PLUGINS__CANDLES__INTERVALS='["1m", "1h"]',
        PLUGINS__INDICATORS__INTERVALS='["1m", "1h"]',
    )
    summary = asyncio.run(_replay(config, replay_plugins(config, [str(testdata / XRP)], speed=0.0), None))
    assert summary["ingested"] == 12_477
    with TestClient(create_app(config)) as client:
        yield Path(config.storage.sqlite_path), client


@pytest.fixture(scope="module")
def client(db_and_client: tuple[Path, TestClient[Any]]) -> TestClient[Any]:
    return db_and_client[1]


COLUMNS = {
    "rsi": {"value": "rsi"},
    "momentum": {"value": "momentum"},
    "macd": {"value": "macd", "signal": "macd_signal", "histogram": "macd_histogram"},
    "bollinger": {"value": "bollinger_middle", "upper": "bollinger_upper", "lower": "bollinger_lower"},
}


def stored(db: Path, kind: str, interval: str) -> list[dict[str, Any]]:
    """The stored points as the route should render them, oldest first."""
    fields = COLUMNS[kind]
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            f"SELECT ts, {', '.join(fields.values())} FROM indicators"
            f" WHERE symbol = 'XRPETH' AND interval = ? AND {fields['value']} IS NOT NULL ORDER BY ts",
            (interval,),
        ).fetchall()
    return [dict(zip(["ts", *fields], row, strict=True)) for row in rows]


def data(client: TestClient[Any], url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "data", "timestamp"}
    assert body["success"] is True
    return body["data"]


def error(client: TestClient[Any], url: str, status: int, code: str) -> str:
    response = client.get(url)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    return str(body["error"]["message"])


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_each_type_has_its_fields_and_the_stored_values(db_and_client: Any, kind: str) -> None:
    db, client = db_and_client
    got = data(client, f"/api/v1/indicators/XRPETH/{kind}?interval=1h&limit=1000")
    assert (got["symbol"], got["type"], got["interval"]) == ("XRPETH", kind, "1h")
    assert set(got) == {"symbol", "type", "interval", "data"}
    assert all(set(point) == SHAPES[kind] for point in got["data"])
    assert got["data"] == stored(db, kind, "1h")  # doubles survive the JSON round trip exactly
    assert len(got["data"]) > 20


def test_defaults_are_the_latest_100_one_minute_points(db_and_client: Any) -> None:
    db, client = db_and_client
    got = data(client, "/api/v1/indicators/xrpeth/rsi")
    assert (got["symbol"], got["interval"]) == ("XRPETH", "1m")
    assert got["data"] == stored(db, "rsi", "1m")[-100:]


def test_paging_from_start_and_bounding_by_end(db_and_client: Any) -> None:
    db, client = db_and_client
    everything = stored(db, "macd", "1m")
    first = data(client, f"/api/v1/indicators/XRPETH/macd?start={everything[0]['ts']}&limit=1000")["data"]
    after = data(client, f"/api/v1/indicators/XRPETH/macd?start={first[-1]['ts'] + 1}&limit=1000")["data"]
    assert first + after == everything[: len(first) + len(after)]
    assert len(first) == 1000
    end = everything[500]["ts"]
    tail = data(client, f"/api/v1/indicators/XRPETH/macd?end={end}&limit=3")["data"]
    assert tail == everything[498:501]
    lo, hi = 1570838400000, 1570838400000 + 5 * 60_000  # 2019-10-12T00:00Z to 00:05Z, both included
    window = data(client, f"/api/v1/indicators/XRPETH/macd?start=2019-10-12T00:00:00Z&end={hi}")["data"]
    assert window == [p for p in everything if lo <= p["ts"] <= hi]
    assert len(window) == 6


def test_an_interval_without_points_is_empty(client: TestClient[Any]) -> None:
    assert data(client, "/api/v1/indicators/XRPETH/momentum?interval=4h")["data"] == []


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/indicators/XRPETH/ema", 400, "invalid_type"),
        ("/api/v1/indicators/XRPETH/RSI", 400, "invalid_type"),
        ("/api/v1/indicators/XRPETH/rsi?interval=2m", 400, "invalid_interval"),
        ("/api/v1/indicators/XRPETH/rsi?interval=", 400, "invalid_interval"),
        ("/api/v1/indicators/XRPETH/rsi?limit=0", 400, "invalid_limit"),
        ("/api/v1/indicators/XRPETH/rsi?limit=1001", 400, "invalid_limit"),
        ("/api/v1/indicators/XRPETH/rsi?limit=ten", 400, "invalid_limit"),
        ("/api/v1/indicators/XRPETH/rsi?start=yesterday", 400, "invalid_timestamp"),
        ("/api/v1/indicators/XRPETH/rsi?start=2000&end=1000", 400, "invalid_range"),
        ("/api/v1/indicators/XRP-ETH/rsi", 400, "invalid_symbol"),
        ("/api/v1/indicators/BTCUSDT/rsi", 404, "unknown_symbol"),
        ("/api/v1/indicators/XRPETH", 404, "not_found"),
    ],
)
def test_bad_requests_get_a_clear_error(client: TestClient[Any], url: str, status: int, code: str) -> None:
    assert error(client, url, status, code)


def test_the_route_is_in_the_openapi_schema(client: TestClient[Any]) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    parameters = {p["name"] for p in paths["/api/v1/indicators/{symbol}/{type}"]["get"]["parameters"]}
    assert parameters == {"symbol", "type", "interval", "limit", "start", "end"}
