"""Live Binance collector against the fake Binance playing real recordings.

Every run checks the bus (each trade published once, in id order per symbol), the
storage (every trade of the recording, exactly), and the candles (equal to a clean run's).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.fakes.binance import FakeBinance, Recorded, load_trades
from tests.plugins.binance_harness import (
    SPOT,
    USDM,
    Collector,
    aggregated,
    expected_trades,
    handlers_config,
    in_order_once,
    key,
    last_ids,
    stored,
    stored_candles,
    stored_trade_keys,
)

RATE = 2000.0  # trades per second played by the fake


@pytest.fixture(scope="module")
def usdm(testdata: Path) -> list[Recorded]:
    return load_trades(testdata / USDM, limit=4000)


@pytest.fixture(scope="module")
def spot(testdata: Path) -> list[Recorded]:
    return load_trades(testdata / SPOT)


async def test_clean_run_reproduces_every_trade_once_in_order(tmp_path: Path, usdm: list[Recorded]) -> None:
    expected = expected_trades(usdm)
    async with FakeBinance(usdm, rate=RATE, ping_every=0.2) as fake:
        config = handlers_config(
            tmp_path,
            PLUGINS__ENABLED='["binance", "trades", "candles"]',
            PLUGINS__BINANCE__SYMBOLS='["BTCUSDT"]',
            PLUGINS__BINANCE__WS_URL=fake.ws_url,
            PLUGINS__BINANCE__REST_URL=fake.rest_url,
        )
        started_ms = time.time_ns() // 1_000_000
        run = await Collector(tmp_path, fake, [], config=config).start()
        await run.wait_complete(last_ids(usdm))
        await run.wait_until(lambda: fake.pongs >= 2, "pongs to the server's pings")
        status = run.status()
        ready, details = await run.runtime.readiness()
        await run.stop()
    assert [key(t) for t in run.seen] == [key(t) for t in expected]
    assert [t.event_time for t in run.seen] == [t.event_time for t in expected]  # the exchange's E
    assert all(t.received_at >= started_ms for t in run.seen)  # and the local receive time
    assert stored_trade_keys(run.db) == sorted(key(t) for t in expected)
    assert stored_candles(run.db) == aggregated(expected)
    assert fake.paths == ["/stream?streams=btcusdt@trade"]
    assert fake.rest_log == []  # nothing stored before, nothing missed: nothing to repair
    assert ready
    assert details["plugins"]["binance"]["ok"]
    symbol = status["symbols"]["BTCUSDT"]
    assert symbol["connected"]
    assert symbol["state"] == "live"
    assert symbol["last_message_age_s"] is not None
    assert (symbol["gaps_repaired"], symbol["trades_repaired"]) == (0, 0)


async def test_drops_lose_nothing_and_candles_equal_a_clean_run(tmp_path: Path, usdm: list[Recorded]) -> None:
    async with FakeBinance(usdm, rate=RATE) as fake:
        clean = await Collector(tmp_path / "clean", fake, ["BTCUSDT"]).start()
        await clean.wait_complete(last_ids(usdm))
        await clean.stop()
    async with FakeBinance(usdm, rate=RATE) as fake:
        fake.drop_every(300)
        run = await Collector(tmp_path / "drops", fake, ["BTCUSDT"]).start()
        await run.wait_complete(last_ids(usdm))
        status = run.status()
        await run.stop()
    assert fake.drops >= 5
    assert in_order_once(run.seen, "BTCUSDT") == [r.id for r in usdm]
    assert stored_trade_keys(run.db) == stored_trade_keys(clean.db)
    assert stored_candles(run.db) == stored_candles(clean.db)
    symbol = status["symbols"]["BTCUSDT"]
    assert symbol["gaps_repaired"] >= 1
    assert symbol["trades_repaired"] == sum(1 for t in run.seen if t.event_time == 0)  # REST has no E
    assert symbol["trades_repaired"] > 0
    assert status["connections"][0]["connects"] == fake.connections


async def test_abrupt_drops_lose_nothing(tmp_path: Path, usdm: list[Recorded]) -> None:
    async with FakeBinance(usdm, rate=RATE) as fake:
        fake.drop_every(250, mode="abort")
        run = await Collector(tmp_path, fake, ["BTCUSDT"]).start()
        await run.wait_complete(last_ids(usdm))
        await run.stop()
    assert fake.drops >= 5
    expected = expected_trades(usdm)
    assert [key(t) for t in run.seen] == [key(t) for t in expected]
    assert stored_candles(run.db) == aggregated(expected)


async def test_aggtrades_over_several_connections_subscribed_by_frames(
    tmp_path: Path, spot: list[Recorded]
) -> None:
    symbols = ["BTCUSDT", "ETHUSDT", "DOTUSDT"]
    async with FakeBinance(spot, rate=1500.0) as fake:
        fake.drop_every(150)
        run = await Collector(
            tmp_path, fake, symbols, stream="aggTrade", subscribe="frames", streams_per_connection=2
        ).start()
        await run.wait_complete(last_ids(spot))
        status = run.status()
        await run.stop()
    expected = expected_trades(spot)
    for symbol in symbols:
        assert in_order_once(run.seen, symbol) == [t.trade_id for t in expected if t.symbol == symbol]
    assert sorted(key(t) for t in run.seen) == sorted(key(t) for t in expected)
    assert stored_trade_keys(run.db) == sorted(key(t) for t in expected)
    assert stored_candles(run.db) == aggregated(expected)
    assert set(fake.paths) == {"/stream"}
    subscribed = [frozenset(f["params"]) for f in fake.subscribe_frames]
    assert set(subscribed) == {
        frozenset({"btcusdt@aggTrade", "ethusdt@aggTrade"}),
        frozenset({"dotusdt@aggTrade"}),
    }
    assert fake.control_violations == 0
    assert len(status["connections"]) == 2
    assert {p for _, p, _, _ in fake.rest_log} == {"/api/v3/aggTrades"}
    assert sum(s["trades_repaired"] for s in status["symbols"].values()) > 0


async def test_restart_mid_stream_resumes_from_the_last_stored_id(
    tmp_path: Path, usdm: list[Recorded]
) -> None:
    async with FakeBinance(usdm, rate=RATE) as fake:
        first = await Collector(tmp_path, fake, ["BTCUSDT"]).start()
        await first.wait_until(lambda: len(first.seen) >= 1000, "a quarter of the trades")
        await first.stop()
        (stop_id,) = stored(first.db, "SELECT MAX(trade_id) FROM trades")[0]
        published_at_stop = fake.published
        await asyncio.sleep(0.3)  # the exchange goes on while the product is down
        second = await Collector(tmp_path, fake, ["BTCUSDT"]).start()
        await second.wait_complete(last_ids(usdm))
        status = second.status()
        await second.stop()
    assert fake.published > published_at_stop  # trades were missed while down...
    first_repair = fake.rest_log[0][2]
    assert int(first_repair["fromId"]) == stop_id + 1  # ...and fetched from the last stored id on
    assert status["symbols"]["BTCUSDT"]["trades_repaired"] > 0
    ids = in_order_once(second.seen, "BTCUSDT")
    assert ids[0] == stop_id + 1
    expected = expected_trades(usdm)
    assert stored_trade_keys(second.db) == sorted(key(t) for t in expected)
    assert stored_candles(second.db) == aggregated(expected)


async def test_a_looping_feed_goes_on_with_ids_shifted_up(tmp_path: Path, spot: list[Recorded]) -> None:
    """The fake's loop mode (used by the benchmark) reads as one long contiguous feed."""
    records = spot[:300]
    async with FakeBinance(records, rate=1500.0, loop=True) as fake:
        fake.drop_every(200)
        run = await Collector(tmp_path, fake, ["BTCUSDT", "ETHUSDT", "DOTUSDT"], stream="aggTrade").start()
        target = [fake.record(g) for g in range(750)]  # two and a half passes
        await run.wait_until(
            lambda: all(run.newest.get(r.symbol, 0) >= r.id for r in target[-30:]), "two and a half passes"
        )
        await run.stop()
    for symbol in ("BTCUSDT", "ETHUSDT", "DOTUSDT"):
        ids = in_order_once(run.seen, symbol)
        assert ids == list(range(ids[0], ids[0] + len(ids)))
        expected = [r for r in target if r.symbol == symbol]
        assert ids[: len(expected)] == [r.id for r in expected]
        counts = [t.count for t in run.seen if t.symbol == symbol][: len(expected)]
        assert counts == [r.data["l"] - r.data["f"] + 1 for r in expected]
