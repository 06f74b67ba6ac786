"""Candles plugin in a running runtime: clock closing, future-stamped trades."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

from cryptoviz_plugins.candles import CandlesPlugin

from cryptoviz.models import Trade
from cryptoviz.plugin import discover, select
from cryptoviz.runtime import Runtime
from tests.conftest import make_config


def _trade(symbol: str, trade_id: int, at: int) -> Trade:
    return Trade("x", symbol, trade_id, Decimal(1), Decimal(1), at, False)


async def _runtime(tmp_path: Path) -> tuple[Runtime, CandlesPlugin]:
    config = make_config(
        tmp_path, PLUGINS__ENABLED='["candles"]', PLUGINS__CANDLES__GRACE_MS="0",
        PLUGINS__CANDLES__INTERVALS='["1s"]',
    )  # fmt: skip
    runtime = Runtime(config, select(config, discover()))
    await runtime.start()
    plugin = runtime.instances["candles"]
    assert isinstance(plugin, CandlesPlugin)
    return runtime, plugin


async def test_the_clock_closes_the_candles_of_every_symbol_in_a_batch(tmp_path: Path) -> None:
    runtime, plugin = await _runtime(tmp_path)
    now = int(time.time() * 1000)
    await runtime.bus.publish("crypto.raw.trades", [_trade("AAA", 1, now), _trade("BBB", 1, now)])
    deadline = time.monotonic() + 10
    closed: dict[str, bool] = {}
    while time.monotonic() < deadline and not all(closed.get(s) for s in ("AAA", "BBB")):
        await asyncio.sleep(0.1)
        for symbol in ("AAA", "BBB"):
            candle = plugin.aggregator.forming(symbol, "1s")
            closed[symbol] = candle is not None and candle.closed
    await runtime.stop()
    assert closed == {"AAA": True, "BBB": True}


async def test_live_trades_stamped_far_ahead_are_ignored(tmp_path: Path) -> None:
    runtime, plugin = await _runtime(tmp_path)
    now = int(time.time() * 1000)
    future = _trade("AAA", 1, now + 86_400_000)
    await runtime.bus.publish("crypto.raw.trades", [future, _trade("AAA", 2, now)])
    await runtime.bus.drain()
    forming = plugin.aggregator.forming("AAA", "1s")
    await runtime.stop()
    assert plugin.from_the_future == 1
    assert forming is not None
    assert forming.open_time == now - now % 1000
