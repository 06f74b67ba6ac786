"""Live Binance collector under faults: silence, rate limits, a full hold, shutdown notices,
the 24 h limit, an unreachable exchange; and its configuration."""

from __future__ import annotations

import asyncio
import itertools
import socket
from pathlib import Path

import pytest
from cryptoviz_plugins.binance import BinanceConfig

from cryptoviz.config import load_config
from cryptoviz.errors import ConfigError
from cryptoviz.plugin import discover, select
from tests.conftest import make_config
from tests.fakes.binance import FakeBinance, Recorded, load_trades
from tests.plugins.binance_harness import (
    USDM,
    Collector,
    aggregated,
    expected_trades,
    in_order_once,
    last_ids,
    stored_candles,
)


@pytest.fixture(scope="module")
def usdm(testdata: Path) -> list[Recorded]:
    return load_trades(testdata / USDM, limit=3000)


async def test_silence_longer_than_the_watchdog_reconnects(tmp_path: Path, usdm: list[Recorded]) -> None:
    async with FakeBinance(usdm, rate=1500.0) as fake:
        run = await Collector(tmp_path, fake, ["BTCUSDT"], watchdog_seconds=0.5).start()
        await run.wait_until(lambda: len(run.seen) >= 500, "the first trades")
        fake.stall()  # the connection stays open and delivers nothing more
        await run.wait_complete(last_ids(usdm))
        status = run.status()
        await run.stop()
    connection = status["connections"][0]
    assert connection["watchdog_reconnects"] >= 1
    assert fake.connections >= 2
    assert in_order_once(run.seen, "BTCUSDT") == [r.id for r in usdm]
    assert status["symbols"]["BTCUSDT"]["trades_repaired"] > 0


async def test_a_rate_limited_repair_honours_retry_after(tmp_path: Path, usdm: list[Recorded]) -> None:
    async with FakeBinance(usdm, rate=1500.0) as fake:
        run = await Collector(tmp_path, fake, ["BTCUSDT"]).start()
        await run.wait_until(lambda: len(run.seen) >= 500, "the first trades")
        fake.refuse_rest(3, 429, retry_after=0.3)
        fake.drop_now()
        await run.wait_complete(last_ids(usdm))
        status = run.status()
        await run.stop()
    assert status["rest"]["rate_limited"] == 3
    log = fake.rest_log
    for (refused_at, *_, code), (next_at, *_) in itertools.pairwise(log):
        if code == 429:
            assert next_at - refused_at >= 0.25  # nothing asked before Retry-After ran out
    assert [code for *_, code in log[:4]] == [429, 429, 429, 200]
    assert in_order_once(run.seen, "BTCUSDT") == [r.id for r in usdm]


async def test_a_full_hold_lets_its_oldest_go_and_rest_fetches_them(
    tmp_path: Path, usdm: list[Recorded]
) -> None:
    """While REST is paused, live trades pile up beyond `max_held_trades`: the oldest are let
    go, and the repair reaches further to fetch them. Nothing is lost or reordered."""
    async with FakeBinance(usdm, rate=1500.0) as fake:
        run = await Collector(tmp_path, fake, ["BTCUSDT"], max_held_trades=20).start()
        await run.wait_until(lambda: len(run.seen) >= 500, "the first trades")
        fake.refuse_rest(1, 429, retry_after=0.5)
        fake.drop_now()
        await run.wait_complete(last_ids(usdm))
        status = run.status()
        await run.stop()
    symbol = status["symbols"]["BTCUSDT"]
    assert symbol["held_dropped"] > 0
    assert in_order_once(run.seen, "BTCUSDT") == [r.id for r in usdm]


async def test_a_shutdown_notice_reconnects_at_once(tmp_path: Path, usdm: list[Recorded]) -> None:
    async with FakeBinance(usdm, rate=1500.0) as fake:
        run = await Collector(tmp_path, fake, ["BTCUSDT"]).start()
        await run.wait_until(lambda: len(run.seen) >= 500, "the first trades")
        fake.announce_shutdown()
        await run.wait_until(lambda: fake.connections >= 2, "a new connection")
        await run.wait_complete(last_ids(usdm))
        status = run.status()
        await run.stop()
    assert status["connections"][0]["planned_reconnects"] == 1
    assert in_order_once(run.seen, "BTCUSDT") == [r.id for r in usdm]


async def test_a_connection_is_renewed_before_its_time_limit(tmp_path: Path, usdm: list[Recorded]) -> None:
    async with FakeBinance(usdm, rate=1500.0) as fake:
        run = await Collector(tmp_path, fake, ["BTCUSDT"], reconnect_after_seconds=0.4).start()
        await run.wait_complete(last_ids(usdm))
        status = run.status()
        await run.stop()
    assert status["connections"][0]["planned_reconnects"] >= 1
    assert fake.connections >= 2
    assert in_order_once(run.seen, "BTCUSDT") == [r.id for r in usdm]


async def test_a_refused_handshake_waits_its_retry_after(tmp_path: Path, usdm: list[Recorded]) -> None:
    async with FakeBinance(usdm[:1500], rate=1500.0) as fake:
        fake.refuse_connections(1, 429, retry_after=0.6)
        run = await Collector(tmp_path, fake, ["BTCUSDT"]).start()
        await run.wait_complete(last_ids(usdm[:1500]))
        await run.stop()
    assert len(fake.refused_connections) == 1
    assert fake.connect_times[0] - fake.refused_connections[0] >= 0.55  # backoff alone is 0.2 s at most
    assert in_order_once(run.seen, "BTCUSDT") == [r.id for r in usdm[:1500]]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_ready_fails_while_a_symbol_stays_disconnected(tmp_path: Path) -> None:
    url = f"127.0.0.1:{_closed_port()}"  # nothing listens there
    run = Collector(
        tmp_path, None, ["BTCUSDT", "ETHUSDT"], ws_url=f"ws://{url}", rest_url=f"http://{url}",
        max_disconnected_seconds=0.3,
    )  # fmt: skip
    await run.start()
    await run.wait_until(lambda: run.status()["connections"][0]["last_reason"] != "", "a failed attempt")
    await asyncio.sleep(0.4)
    ready, details = await run.runtime.readiness()
    await run.stop()
    assert not ready
    binance = details["plugins"]["binance"]
    assert not binance["ok"]
    assert binance["symbols"]["ETHUSDT"]["connected"] is False
    assert "cannot connect" in binance["connections"][0]["last_reason"]


def test_defaults_name_the_real_exchange() -> None:
    config = load_config(None, {"CRYPTOVIZ_PLUGINS__ENABLED": '["binance", "trades", "candles"]'})
    binance = select(config, discover())[0].config
    assert isinstance(binance, BinanceConfig)
    assert binance.symbols == ["BTCUSDT", "ETHUSDT"]
    assert binance.ws_url == "wss://stream.binance.com:9443"
    assert binance.rest_url == "https://api.binance.com"
    assert binance.stream == "trade"
    assert binance.reconnect_after_seconds < 86_400


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("SYMBOLS", '["BTCUSDT", "BTCUSDT"]', "symbols listed twice: BTCUSDT"),
        ("SYMBOLS", '["btc-usdt"]', "plugins.binance.symbols"),
        ("SYMBOLS", "[]", "plugins.binance.symbols"),
        ("WS_URL", "http://stream.binance.com", "plugins.binance.ws_url"),
        ("REST_URL", "api.binance.com", "plugins.binance.rest_url"),
        ("STREAM", "depth", "expected one of 'aggTrade', 'trade'"),
        ("STREAMS_PER_CONNECTION", "1025", "plugins.binance.streams_per_connection"),
        ("REST_PAGE_SIZE", "1001", "plugins.binance.rest_page_size"),
        ("RECONNECT_AFTER_SECONDS", "90000", "plugins.binance.reconnect_after_seconds"),
        ("NO_SUCH_KEY", "1", "unknown key `plugins.binance.no_such_key`"),
    ],
)
def test_bad_configuration_is_refused_with_the_key(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    config = make_config(tmp_path, **{f"PLUGINS__BINANCE__{key}": value})
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        select(config, discover())


async def test_candles_closed_on_the_clock_during_an_outage_end_equal(
    tmp_path: Path, usdm: list[Recorded]
) -> None:
    """A silent connection outlives the candles' grace: the clock closes the forming candles,
    then the repaired trades amend them. Every candle ends as a clean pass makes it."""
    config = make_config(tmp_path, PLUGINS__ENABLED='["trades", "candles"]')  # close_on_clock on
    async with FakeBinance(usdm[:2400], rate=600.0) as fake:
        run = await Collector(tmp_path, fake, ["BTCUSDT"], config=config, watchdog_seconds=3.0).start()
        await run.wait_until(lambda: len(run.seen) >= 600, "the first trades")
        fake.stall()
        await run.wait_until(
            lambda: run.status()["connections"][0]["watchdog_reconnects"] >= 1, "the watchdog"
        )
        await run.wait_complete(last_ids(usdm[:2400]))
        await run.stop()
    expected = aggregated(expected_trades(usdm[:2400]))
    rows = stored_candles(run.db)
    closed_column = 11
    assert [r[:closed_column] + r[closed_column + 1 :] for r in rows] == [
        r[:closed_column] + r[closed_column + 1 :] for r in expected
    ]
    assert all(
        r[closed_column] >= e[closed_column] for r, e in zip(rows, expected, strict=True)
    )  # closed wherever a clean pass closed it (the clock may close the last ones too)
