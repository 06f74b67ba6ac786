"""`GET /metrics` on the real app (Litestar's test client, SQLite on disk): the values equal
what went through the pipeline, parsed with prometheus_client's own text parser."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cryptoviz.app import create_app
from cryptoviz.models import TOPIC_RAW_TRADES, Trade
from tests.conftest import make_config

DEADLINE_S = 20.0


def scrape(client: TestClient[Any]) -> dict[str, Any]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def value(families: dict[str, Any], name: str, **labels: str) -> float:
    """The value of the one sample of `name` with these labels (others ignored)."""
    found = [
        s.value for family in families.values() for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]  # fmt: skip
    assert len(found) == 1, f"{name} {labels}: {found}"
    return float(found[0])


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {DEADLINE_S}s"
        time.sleep(0.02)


def trades(symbol: str, count: int, start_ms: int) -> list[Trade]:
    return [
        Trade("binance", symbol, i, Decimal("100.5") + i, Decimal("0.01"), start_ms + i * 10, i % 2 == 0)
        for i in range(1, count + 1)
    ]


def test_metrics_count_what_went_through(tmp_path: Path) -> None:
    app = create_app(make_config(tmp_path, PLUGINS__ENABLED='["trades", "candles"]'))
    runtime = app.state.runtime
    now_ms = int(time.time() * 1000)
    btc, eth = trades("BTCUSDT", 30, now_ms - 5_000), trades("ETHUSDT", 12, now_ms - 60_000)
    with TestClient(app) as client:
        assert {"cryptoviz_trades_published", "cryptoviz_ws_active_connections"} <= scrape(client).keys()
        with client.websocket_connect("/ws/crypto") as ws:
            ws.send_text(json.dumps({"action": "subscribe", "type": "trades", "symbol": "BTCUSDT"}))
            assert ws.receive_json(timeout=10)["type"] == "subscribed"
            client.blocking_portal.call(runtime.bus.publish, TOPIC_RAW_TRADES, btc + eth)
            got = [ws.receive_json(timeout=10) for _ in btc]
            assert [m["data"]["trade_id"] for m in got] == [t.trade_id for t in btc]
            writer = runtime.instances["trades"].writer
            wait_until(lambda: writer.stored == 42, "trades stored")
            client.blocking_portal.call(runtime.bus.publish, TOPIC_RAW_TRADES, btc[:7])  # repeats
            wait_until(lambda: writer.received == 49, "repeats read")
            wait_until(lambda: writer.pending == 0, "nothing pending")
            families = scrape(client)
            assert value(families, "cryptoviz_ws_active_connections") == 1
    # Ingest: per (exchange, symbol), as published and as read by the trades handler.
    assert value(families, "cryptoviz_trades_published_total", exchange="binance", symbol="BTCUSDT") == 37
    assert value(families, "cryptoviz_trades_published_total", exchange="binance", symbol="ETHUSDT") == 12
    assert value(families, "cryptoviz_trades_received_total", exchange="binance", symbol="BTCUSDT") == 37
    assert value(families, "cryptoviz_trades_received_total", exchange="binance", symbol="ETHUSDT") == 12
    assert value(families, "cryptoviz_handler_items_total", plugin="trades", outcome="stored") == 42
    assert value(families, "cryptoviz_handler_items_total", plugin="trades", outcome="duplicates") == 7
    assert value(families, "cryptoviz_plugin_ok", plugin="trades") == 1
    assert value(families, "cryptoviz_plugin_pending", plugin="trades") == 0
    # Dedup: the repeats were caught before the storage.
    assert value(families, "cryptoviz_dedup_hits_total", backend="memory") == 7
    assert value(families, "cryptoviz_dedup_misses_total", backend="memory") == 42
    # Lag: now minus the newest stored trade time.
    btc_age = value(families, "cryptoviz_trade_age_seconds", exchange="binance", symbol="BTCUSDT")
    eth_age = value(families, "cryptoviz_trade_age_seconds", exchange="binance", symbol="ETHUSDT")
    assert (now_ms - btc[-1].time) / 1000 <= btc_age < 60
    assert eth_age - btc_age == pytest.approx((btc[-1].time - eth[-1].time) / 1000, abs=1e-3)
    # WebSocket hub: the 30 trades and the `subscribed` reply went out.
    assert value(families, "cryptoviz_ws_connections_total") == 1
    assert value(families, "cryptoviz_ws_messages_delivered_total") >= 31
    assert value(families, "cryptoviz_ws_messages_broadcast_total") >= 30
    assert value(families, "cryptoviz_ws_dropped_trades_total") == 0
    assert value(families, "cryptoviz_ws_buffered_messages") >= 0
    # Queues: the memory bus's subscriptions, all drained.
    queues = families["cryptoviz_bus_queue_batches"].samples
    assert {s.labels["subscription"] for s in queues} >= {
        "crypto.raw.trades/trades",
        "crypto.raw.trades/candles",
    }
    # Storage: one histogram per kind of write, with every trade batch in it.
    writes = families["cryptoviz_storage_write_seconds"]
    assert writes.type == "histogram"
    inserts = value(families, "cryptoviz_storage_write_seconds_count", backend="sqlite", kind="trade insert")
    assert 1 <= inserts <= 42
    inf = value(
        families, "cryptoviz_storage_write_seconds_bucket", backend="sqlite", kind="trade insert", le="+Inf"
    )
    assert inf == inserts
    assert value(families, "cryptoviz_storage_write_seconds_sum", backend="sqlite", kind="trade insert") > 0
    assert (
        value(families, "cryptoviz_storage_write_seconds_count", backend="sqlite", kind="candle upsert") >= 1
    )
    # Process basics.
    assert value(families, "process_resident_memory_bytes") > 10_000_000
    assert value(families, "cryptoviz_uptime_seconds") > 0


def test_replayed_trades_are_counted_per_symbol(tmp_path: Path, testdata: Path) -> None:
    """A collector plugin (replay) feeding the real pipeline: what it published, what the
    handler read and what the table holds agree, symbol by symbol."""
    recording = testdata / "binance" / "spot-BTC-ETH-DOT-2021-04-04.jsonl"
    config = make_config(
        tmp_path, PLUGINS__ENABLED='["replay", "trades"]', PLUGINS__REPLAY__FILES=json.dumps([str(recording)])
    )
    app = create_app(config)
    runtime = app.state.runtime
    with TestClient(app) as client:
        replay, writer = runtime.instances["replay"], runtime.instances["trades"].writer
        wait_until(lambda: replay.done.is_set(), "replay done")
        wait_until(lambda: writer.stored + writer.duplicates == replay.trades, "trades handled")
        families = scrape(client)
    with sqlite3.connect(tmp_path / "test.db") as db:
        stored = dict(db.execute("SELECT symbol, count(*) FROM trades GROUP BY symbol").fetchall())
    assert len(stored) == 3
    assert replay.trades > 0
    for symbol, rows in stored.items():
        published = value(families, "cryptoviz_trades_published_total", exchange="binance", symbol=symbol)
        received = value(families, "cryptoviz_trades_received_total", exchange="binance", symbol=symbol)
        assert published == received == rows, symbol
    assert value(families, "cryptoviz_plugin_ok", plugin="replay") == 1
    assert sum(stored.values()) == replay.trades
    batches = value(families, "cryptoviz_storage_write_seconds_count", backend="sqlite", kind="trade insert")
    assert batches >= 1
