"""Market routes over a database filled by the real replay pipeline from the 2021 spot recording."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from cryptoviz.app import create_app
from cryptoviz.replay.command import _replay, replay_plugins
from tests.conftest import make_config

SPOT = "spot-BTC-ETH-DOT-2021-04-04.jsonl"
SYMBOLS = ("BTCUSDT", "DOTUSDT", "ETHUSDT")
STEP = {"1s": 1_000, "5s": 5_000, "1m": 60_000}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
CANDLE_FIELDS = {
    "time", "open", "high", "low", "close", "volume", "trades", "quote_volume", "taker_buy_volume", "closed",
}  # fmt: skip
NUMBER_FIELDS = ("open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume")

# Product bug shown by tests/api/test_health.py::test_app_builds_with_deprecation_warnings_as_errors:
# the handlers use Litestar 2.25's deprecated inferred parameters; ignored here, narrowly.


@dataclass(frozen=True)
class AggTrade:
    trade_id: int
    price: Decimal
    quantity: Decimal
    time: int
    count: int
    buyer_is_maker: bool


def ms(text: str) -> int:
    """RFC 3339 (as the API writes it) to epoch milliseconds, computed independently of the product."""
    assert RFC3339.match(text), text
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def iso(epoch_ms: int, tz: timezone = UTC) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz).isoformat()


@pytest.fixture(scope="module")
def agg_trades(testdata: Path) -> dict[str, list[AggTrade]]:
    """The file's aggTrades per symbol, in (trade time, id) order."""
    found: dict[str, list[AggTrade]] = {s: [] for s in SYMBOLS}
    for line in (testdata / "binance" / SPOT).read_text(encoding="utf-8").splitlines():
        d = json.loads(line)["data"]
        if d.get("e") == "aggTrade":
            found[d["s"]].append(
                AggTrade(d["a"], Decimal(d["p"]), Decimal(d["q"]), d["T"], d["l"] - d["f"] + 1, d["m"])
            )
    assert sum(len(v) for v in found.values()) == 1910
    return {s: sorted(v, key=lambda t: (t.time, t.trade_id)) for s, v in found.items()}


@pytest.fixture(scope="module")
def client(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Any]]:
    config = make_config(tmp_path_factory.mktemp("market"), PLUGINS__ENABLED='["trades", "candles"]')
    plugins = replay_plugins(config, [str(testdata / "binance" / SPOT)], speed=0.0)
    summary = asyncio.run(_replay(config, plugins, None))
    assert (summary["ingested"], summary["duplicates"]) == (1910, 0)
    with TestClient(create_app(config)) as test_client:
        yield test_client


def get_data(client: TestClient[Any], url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, response.text
    body = json.loads(response.text, parse_float=Decimal)
    assert set(body) == {"success", "data", "timestamp"}
    assert body["success"] is True
    assert RFC3339.match(body["timestamp"])
    return body["data"]


def candles(client: TestClient[Any], symbol: str, query: str) -> list[dict[str, Any]]:
    data = get_data(client, f"/api/v1/crypto/{symbol}/data?{query}")
    assert set(data) == {"symbol", "interval", "data"}
    assert data["symbol"] == symbol.upper()
    return list(data["data"])


def test_symbols_lists_each_recorded_symbol_with_its_trade_span(client, agg_trades) -> None:
    data = get_data(client, "/api/v1/symbols")
    assert sorted(item["symbol"] for item in data) == list(SYMBOLS)
    for item in data:
        assert set(item) == {"symbol", "exchange", "first_trade", "last_trade"}
        assert item["exchange"] == "binance"
        trades = agg_trades[item["symbol"]]
        assert ms(item["first_trade"]) == trades[0].time
        assert ms(item["last_trade"]) == trades[-1].time


def test_candles_envelope_fields_and_json_number_types(client) -> None:
    data = get_data(client, "/api/v1/crypto/BTCUSDT/data?interval=1m")
    assert (data["symbol"], data["interval"]) == ("BTCUSDT", "1m")
    series = data["data"]
    assert [c["time"] for c in series] == ["2021-04-04T20:03:00Z", "2021-04-04T20:04:00Z"]
    for candle in series:
        assert set(candle) == CANDLE_FIELDS
        for field in NUMBER_FIELDS:
            assert isinstance(candle[field], Decimal | int), (field, candle[field])
            assert not isinstance(candle[field], bool)
        assert type(candle["trades"]) is int
        assert type(candle["closed"]) is bool
    assert series[0]["closed"] is True
    assert series[0]["low"] <= series[0]["open"] <= series[0]["high"]


def test_default_interval_is_one_minute(client) -> None:
    response = client.get("/api/v1/crypto/BTCUSDT/data")
    assert response.json()["data"]["interval"] == "1m"
    assert response.json()["data"] == client.get("/api/v1/crypto/BTCUSDT/data?interval=1m").json()["data"]


@pytest.mark.parametrize("interval", ["1s", "5s", "1m"])
@pytest.mark.parametrize("symbol", SYMBOLS)
def test_candles_are_continuous_and_account_for_every_trade(client, agg_trades, symbol, interval) -> None:
    step = STEP[interval]
    trades = agg_trades[symbol]
    series = candles(client, symbol, f"interval={interval}&limit=1000")
    times = [ms(c["time"]) for c in series]
    assert all(b - a == step for a, b in pairwise(times)), "gap or overlap in the series"
    assert times[0] == trades[0].time // step * step
    assert times[-1] == trades[-1].time // step * step
    assert series[0]["open"] == trades[0].price
    assert series[-1]["close"] == trades[-1].price
    assert sum(c["volume"] for c in series) == sum(t.quantity for t in trades)
    assert sum(c["quote_volume"] for c in series) == sum(t.price * t.quantity for t in trades)
    assert sum(c["taker_buy_volume"] for c in series) == sum(
        t.quantity for t in trades if not t.buyer_is_maker
    )
    assert sum(c["trades"] for c in series) == sum(t.count for t in trades)
    assert max(c["high"] for c in series) == max(t.price for t in trades)
    assert min(c["low"] for c in series) == min(t.price for t in trades)
    for a, b in pairwise(series):
        if b["trades"] == 0:  # an empty window is a flat candle at the previous close
            assert b["open"] == b["high"] == b["low"] == b["close"] == a["close"]
            assert b["volume"] == 0


@pytest.mark.parametrize("limit", [1, 5, 50])
def test_limit_returns_the_latest_candles_oldest_first(client, limit) -> None:
    full = candles(client, "BTCUSDT", "interval=1s&limit=1000")
    assert len(full) > 50
    assert candles(client, "BTCUSDT", f"interval=1s&limit={limit}") == full[-limit:]


def test_default_limit_is_one_hundred(client) -> None:
    full = candles(client, "BTCUSDT", "interval=1s&limit=1000")
    assert len(full) < 100  # the recording spans 91 s: the default returns them all
    assert candles(client, "BTCUSDT", "interval=1s") == full


def _bound(kind: str, epoch_ms: int) -> str:
    if kind == "epoch":
        return str(epoch_ms)
    if kind == "rfc3339-offset":
        return iso(epoch_ms, timezone(timedelta(hours=2))).replace("+", "%2B")
    return iso(epoch_ms).replace("+00:00", "Z")


@pytest.mark.parametrize("kind", ["epoch", "rfc3339-z", "rfc3339-offset"])
def test_start_and_end_bound_the_open_time_inclusively(client, kind) -> None:
    full = candles(client, "BTCUSDT", "interval=1s&limit=1000")
    t0 = ms(full[0]["time"])
    start, end = _bound(kind, t0 + 10_000), _bound(kind, t0 + 20_000)
    window = candles(client, "BTCUSDT", f"interval=1s&start={start}&end={end}")
    assert window == full[10:21]


def test_unaligned_bounds_select_open_times_inside_them(client) -> None:
    full = candles(client, "BTCUSDT", "interval=1s&limit=1000")
    t0 = ms(full[0]["time"])
    window = candles(client, "BTCUSDT", f"interval=1s&start={t0 + 10_500}&end={t0 + 20_999}")
    assert window == full[11:21]


def test_start_alone_returns_limit_candles_from_start(client) -> None:
    full = candles(client, "BTCUSDT", "interval=1s&limit=1000")
    t0 = ms(full[0]["time"])
    assert candles(client, "BTCUSDT", f"interval=1s&start={t0 + 5_000}&limit=3") == full[5:8]


def test_end_alone_returns_the_latest_limit_candles_up_to_end(client) -> None:
    full = candles(client, "BTCUSDT", "interval=1s&limit=1000")
    t0 = ms(full[0]["time"])
    assert candles(client, "BTCUSDT", f"interval=1s&end={t0 + 20_000}&limit=3") == full[18:21]


def test_lowercase_symbol_is_accepted_and_upper_cased(client) -> None:
    for route in ("crypto/{}/data?interval=5s", "crypto/{}/latest", "stats/{}"):
        lower = get_data(client, "/api/v1/" + route.format("btcusdt"))
        upper = get_data(client, "/api/v1/" + route.format("BTCUSDT"))
        assert lower == upper
        assert lower["symbol"] == "BTCUSDT"


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_latest_is_the_last_aggtrade_of_the_file(client, agg_trades, symbol) -> None:
    last = agg_trades[symbol][-1]
    data = get_data(client, f"/api/v1/crypto/{symbol}/latest")
    assert set(data) == {"symbol", "price", "timestamp"}
    assert data["symbol"] == symbol
    assert isinstance(data["price"], Decimal)
    assert data["price"] == last.price
    assert ms(data["timestamp"]) == last.time


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_stats_match_a_computation_over_the_file(client, agg_trades, symbol) -> None:
    trades = agg_trades[symbol]
    assert trades[-1].time - trades[0].time < 86_400_000  # every trade is inside the 24 h window
    data = get_data(client, f"/api/v1/stats/{symbol}")
    assert set(data) == {"symbol", "high_24h", "low_24h", "change_24h", "volume_24h"}
    assert data["symbol"] == symbol
    assert data["high_24h"] == max(t.price for t in trades)
    assert data["low_24h"] == min(t.price for t in trades)
    assert data["volume_24h"] == sum(t.quantity for t in trades)
    first, last = trades[0].price, trades[-1].price
    expected = float((last - first) / first * 100)
    assert float(data["change_24h"]) == pytest.approx(expected, rel=1e-9, abs=1e-12)
