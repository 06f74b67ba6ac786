"""Indicators plugin: the XRPETH replay equals TA-Lib on the stored closes; live provisional
points; resuming from stored state and candles; configuration errors."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptoviz_plugins.indicators import IndicatorsPlugin

from cryptoviz.config import Config
from cryptoviz.errors import ConfigError
from cryptoviz.market.indicators import IndicatorParams, IndicatorSeries
from cryptoviz.models import INDICATOR_TYPES, Candle, IndicatorPoint, Trade, candle_topic, indicator_topic
from cryptoviz.plugin import discover, select
from cryptoviz.replay.command import _replay, replay_plugins
from cryptoviz.replay.reader import read_file
from cryptoviz.runtime import Runtime
from cryptoviz.storage.base import SeriesState
from tests.conftest import make_config
from tests.market.test_indicators import FIELDS, talib_columns

XRP = "binance/XRPETH-aggTrades-2019-10-11_13.csv"
MINUTE = 60_000
MAX_RELATIVE_ERROR = 1e-9


def relative_error(a: float, b: float) -> float:
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


def talib_check(db: Path, symbol: str, interval: str, params: IndicatorParams | None = None) -> int:
    """Every stored point of the series against TA-Lib over the stored closed candles: the
    same candles get a point (the first where TA-Lib's first is), every field within
    MAX_RELATIVE_ERROR. Returns the number of points checked."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        candles = conn.execute(
            "SELECT open_time, close FROM candles WHERE symbol = ? AND interval = ? AND closed"
            " ORDER BY open_time",
            (symbol, interval),
        ).fetchall()
        stored = conn.execute(
            "SELECT ts, rsi, macd, macd_signal, macd_histogram, bollinger_middle, bollinger_upper,"
            " bollinger_lower, momentum FROM indicators WHERE symbol = ? AND interval = ?",
            (symbol, interval),
        ).fetchall()
    times = [t for t, _ in candles]
    assert times == sorted(set(times))
    expected = talib_columns([float(Decimal(c)) for _, c in candles], params or IndicatorParams())
    by_type: dict[str, dict[int, dict[str, float | None]]] = {kind: {} for kind in INDICATOR_TYPES}
    for ts, rsi, macd, signal, histogram, middle, upper, lower, momentum in stored:
        columns = {
            "rsi": {"value": rsi},
            "macd": {"value": macd, "signal": signal, "histogram": histogram},
            "bollinger": {"value": middle, "upper": upper, "lower": lower},
            "momentum": {"value": momentum},
        }
        for kind, values in columns.items():
            if any(v is not None for v in values.values()):
                by_type[kind][ts] = values
    checked = 0
    for kind in INDICATOR_TYPES:
        reference = expected[kind]
        indexes = np.flatnonzero(~np.isnan(reference["value"]))
        assert sorted(by_type[kind]) == [times[i] for i in indexes], (
            interval,
            kind,
            "points at other candles",
        )
        for i in indexes:
            point = by_type[kind][times[i]]
            for field in FIELDS[kind]:
                error = relative_error(point[field], float(reference[field][i]))  # type: ignore[arg-type]
                assert error <= MAX_RELATIVE_ERROR, (interval, kind, field, times[i], error)
            checked += 1
    return checked


async def test_xrpeth_replay_equals_talib_on_the_stored_closes(testdata: Path, tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        PLUGINS__ENABLED='["trades", "candles", "indicators"]',
        PLUGINS__CANDLES__INTERVALS='["1m", "1h"]',
        PLUGINS__INDICATORS__INTERVALS='["1m", "1h"]',
    )
    summary = await _replay(config, replay_plugins(config, [str(testdata / XRP)], speed=0.0), None)
    assert (summary["ingested"], summary["crashes"]) == (12_477, 0)
    db = Path(config.storage.sqlite_path)
    checked = {interval: talib_check(db, "XRPETH", interval) for interval in ("1m", "1h")}
    # 3,559 closed 1m and 59 closed 1h candles: rsi, macd, bollinger, momentum from their first point on.
    assert checked == {"1m": 3545 + 3526 + 3540 + 3549, "1h": 45 + 26 + 40 + 49}


async def test_candles_caught_up_by_the_candles_plugin_at_start_are_not_missed(
    testdata: Path, tmp_path: Path, running: list[Runtime]
) -> None:
    """Trades stored without their candles (a SIGKILL between the two writes): the candles
    plugin, started first, publishes them again before the indicators join the bus, and its
    store holds them a whole second; the indicators still see every one."""
    config = make_config(
        tmp_path,
        PLUGINS__ENABLED='["trades", "candles", "indicators"]',
        PLUGINS__CANDLES__INTERVALS='["1m"]',
        PLUGINS__INDICATORS__INTERVALS='["1m"]',
        STORAGE__FLUSH_MS="1000",
    )
    trades = [t for t in read_file(testdata / XRP) if isinstance(t, Trade)][:3000]
    runtime = Runtime(config, select(config, discover()), live=False)
    await runtime.storage.open()
    await runtime.storage.insert_trades(trades)
    await runtime.storage.close()

    await runtime.start()
    running.append(runtime)
    await runtime.stop()

    closed = 1 + (trades[-1].time // MINUTE - trades[0].time // MINUTE) - 1  # all but the forming one
    assert talib_check(Path(config.storage.sqlite_path), "XRPETH", "1m") == (
        (closed - 14) + (closed - 33) + (closed - 19) + (closed - 10)
    )


def candle(open_time: int, close: float, *, closed: bool = True, symbol: str = "AAA") -> Candle:
    price = Decimal(repr(close))
    return Candle(
        symbol, "1m", open_time, price, price, price, price, Decimal(1), 1, price, Decimal(0), closed, 1
    )


def closes(n: int, start: int = 0) -> list[float]:
    return [round(100 + 5 * math.sin(i / 3) + (i % 7) * 0.25, 2) for i in range(start, start + n)]


@pytest.fixture
async def running() -> AsyncIterator[list[Runtime]]:
    """Runtimes a test starts; any left running (a failed assertion) are stopped after it."""
    runtimes: list[Runtime] = []
    yield runtimes
    for runtime in runtimes:
        await runtime.stop()


async def started(
    config: Config, running: list[Runtime], *, live: bool = True
) -> tuple[Runtime, IndicatorsPlugin]:
    runtime = Runtime(config, select(config, discover()), live=live)
    await runtime.start()
    running.append(runtime)
    plugin = runtime.instances["indicators"]
    assert isinstance(plugin, IndicatorsPlugin)
    return runtime, plugin


def indicator_config(tmp_path: Path, **overrides: str) -> Config:
    overrides = {
        "PLUGINS__ENABLED": '["indicators"]',
        "PLUGINS__INDICATORS__INTERVALS": '["1m"]',
        "PLUGINS__INDICATORS__PROVISIONAL_MS": "50",
        **overrides,
    }
    return make_config(tmp_path, **overrides)


async def wait_for(condition: Any, what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


class Probe:
    """A client of the indicator topics, as the hub is."""

    def __init__(self, runtime: Runtime) -> None:
        self.sub = runtime.bus.subscribe(
            [indicator_topic(k) for k in INDICATOR_TYPES], "probe", IndicatorPoint
        )
        self.points: list[IndicatorPoint] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            _topic, points = await self.sub.get()
            self.points += points
            await self.sub.commit()

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def by_type_and_time(p: IndicatorPoint) -> tuple[str, int]:
    return p.type, p.ts


@pytest.fixture
async def live(
    tmp_path: Path, running: list[Runtime]
) -> AsyncIterator[tuple[Runtime, IndicatorsPlugin, Probe]]:
    runtime, plugin = await started(indicator_config(tmp_path), running)
    probe = Probe(runtime)
    yield runtime, plugin, probe
    await probe.close()
    await runtime.stop()


async def test_live_final_points_are_published_and_stored(live: Any, tmp_path: Path) -> None:
    runtime, plugin, probe = live
    values = closes(60)
    await runtime.bus.publish(candle_topic("1m"), [candle(i * MINUTE, c) for i, c in enumerate(values)])
    expected = IndicatorSeries("AAA", "1m", IndicatorParams())
    points = [p for i, c in enumerate(values) for p in expected.take(i * MINUTE, c)]
    await wait_for(lambda: len(probe.points) >= len(points), "the final points")
    assert sorted(probe.points, key=by_type_and_time) == sorted(points, key=by_type_and_time)
    await wait_for(lambda: plugin.status()["pending"] == 0, "the write")
    stored = await runtime.storage.indicators.points("AAA", "macd", "1m", start=0, end=None, limit=100)
    assert stored == [p for p in points if p.type == "macd"]
    assert [s.ts for s in await runtime.storage.indicators.states()] == [59 * MINUTE]


async def test_live_provisional_points_follow_the_forming_close_throttled_and_unstored(live: Any) -> None:
    runtime, plugin, probe = live
    values = closes(40)
    await runtime.bus.publish(candle_topic("1m"), [candle(i * MINUTE, c) for i, c in enumerate(values)])
    forming = [101.0 + k / 100 for k in range(200)]
    started_at = time.monotonic()
    for close in forming:  # one update per publish, as fast as the bus takes them
        await runtime.bus.publish(candle_topic("1m"), [candle(40 * MINUTE, close, closed=False)])
    series = IndicatorSeries("AAA", "1m", IndicatorParams())
    for i, c in enumerate(values):
        series.take(i * MINUTE, c)
    last = series.provisional(40 * MINUTE, forming[-1])
    await wait_for(lambda: last[0] in probe.points, "the provisional points of the last forming close")
    elapsed = time.monotonic() - started_at
    provisional = [p for p in probe.points if not p.final]
    previews = [series.provisional(40 * MINUTE, c) for c in forming]
    assert all(any(p in preview for preview in previews) for p in provisional)
    rsi_pushes = sum(p.type == "rsi" for p in provisional)
    assert 1 <= rsi_pushes <= elapsed / 0.05 + 1  # at most one per provisional_ms, never one per update
    await wait_for(lambda: plugin.status()["pending"] == 0, "the write")
    stored = await runtime.storage.indicators.points("AAA", "rsi", "1m", start=0, end=None, limit=100)
    assert stored[-1].ts == 39 * MINUTE
    assert all(p.final for p in stored)


async def test_batch_runs_publish_no_provisional_points(tmp_path: Path, running: list[Runtime]) -> None:
    runtime, plugin = await started(indicator_config(tmp_path), running, live=False)
    probe = Probe(runtime)
    values = closes(40)
    await runtime.bus.publish(
        candle_topic("1m"),
        [candle(i * MINUTE, c) for i, c in enumerate(values)] + [candle(40 * MINUTE, 99.0, closed=False)],
    )
    await wait_for(lambda: plugin.status()["candles"] == 40, "the candles")
    await asyncio.sleep(0.2)  # four provisional periods
    await probe.close()
    await runtime.stop()
    assert probe.points
    assert all(p.final for p in probe.points)
    assert plugin.status()["provisional_published"] == 0


async def store_candles(runtime: Runtime, candles: list[Candle]) -> None:
    await runtime.storage.insert_trades([Trade("x", "AAA", 1, Decimal(1), Decimal(1), 0, False)])
    await runtime.storage.upsert_candles(candles)


async def test_a_restart_resumes_from_state_then_stored_candles_then_the_bus(
    tmp_path: Path, running: list[Runtime]
) -> None:
    """The first run stops after candle 29; the candle store then got 30..44 (the
    indicators never saw them) and candle 29 again with another close; the bus brings
    the rest, with 44 (already read from storage) and an older candle again."""
    config = indicator_config(tmp_path)
    values = closes(80)
    runtime, _ = await started(config, running)
    await store_candles(runtime, [candle(i * MINUTE, c) for i, c in enumerate(values[:30])])
    await runtime.bus.publish(candle_topic("1m"), [candle(i * MINUTE, c) for i, c in enumerate(values[:30])])
    await runtime.stop()

    values[29] += 1.5
    runtime, plugin = await started(config, running)  # no candle store running: stored by hand first
    await store_candles(runtime, [candle(i * MINUTE, values[i]) for i in range(29, 45)])
    await runtime.stop()
    runtime, plugin = await started(config, running)
    assert plugin.status()["caught_up_from_storage"] == 16  # candle 29 again, then 30..44
    later = [candle(i * MINUTE, values[i]) for i in range(44, 80)] + [candle(10 * MINUTE, 1.0)]
    await store_candles(runtime, later[:-1])
    await runtime.bus.publish(candle_topic("1m"), later)
    await wait_for(lambda: plugin.status()["candles"] == 36, "the candles")
    await runtime.stop()
    assert plugin.status()["older_ignored"] == 1
    assert plugin.status()["replaced"] == 1  # candle 44, read from storage first
    assert talib_check(Path(config.storage.sqlite_path), "AAA", "1m") == 66 + 47 + 61 + 70


async def test_a_state_of_other_periods_is_rebuilt_from_the_first_candle(
    tmp_path: Path, running: list[Runtime]
) -> None:
    values = closes(50)
    config = indicator_config(tmp_path)
    runtime, _ = await started(config, running)
    await store_candles(runtime, [candle(i * MINUTE, c) for i, c in enumerate(values)])
    old = IndicatorSeries("AAA", "1m", IndicatorParams(rsi=5))
    for i, c in enumerate(values):
        old.take(i * MINUTE, c)
    await runtime.storage.indicators.save([], [SeriesState("AAA", "1m", 49 * MINUTE, old.dump())])
    await runtime.stop()

    runtime, plugin = await started(config, running)
    await runtime.stop()
    assert (plugin.status()["rebuilt"], plugin.status()["caught_up_from_storage"]) == (1, 50)
    assert talib_check(Path(config.storage.sqlite_path), "AAA", "1m") == 36 + 17 + 31 + 40


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("MACD_FAST", "30", "macd_fast (30) must be below macd_slow (26)"),
        ("RSI_PERIOD", "1", "Expected `int` >= 2"),
        ("PROVISIONAL_MS", "0", "Expected `int` >= 50"),
        ("INTERVALS", '["2m"]', "Invalid enum value '2m'"),
    ],
)
def test_bad_configuration_is_refused_with_the_key(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    config = make_config(tmp_path, **{f"PLUGINS__INDICATORS__{key}": value})
    with pytest.raises(ConfigError, match=r"plugins\.indicators") as error:
        select(config, discover())
    assert message in str(error.value)
