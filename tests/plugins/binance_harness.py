"""The binance plugin run against the fake Binance, with the trades and candles handlers.

`Collector` starts a runtime on a fresh SQLite file and watches `crypto.raw.trades` from a
group of its own, so a test sees exactly what was published and in which order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptoviz_plugins.binance import BinanceConfig, BinancePlugin

from cryptoviz.bus.base import Subscription
from cryptoviz.config import Config
from cryptoviz.errors import BusClosed
from cryptoviz.exchanges.binance import decode_frame
from cryptoviz.market.candles import CandleAggregator
from cryptoviz.models import TOPIC_RAW_TRADES, Candle, Trade
from cryptoviz.plugin import LoadedPlugin, discover, select
from cryptoviz.runtime import Runtime
from tests.conftest import make_config
from tests.fakes.binance import FakeBinance, Recorded

USDM = "binance/usdm-btcusdt-20240808.recv.gz"
SPOT = "binance/spot-BTC-ETH-DOT-2021-04-04.jsonl"
FAST = {"backoff_base_seconds": 0.02, "backoff_cap_seconds": 0.2, "rest_lag_seconds": 0.05}
"""Reconnect delays for tests: drops every few hundred messages would otherwise back off for long."""
DEADLINE_S = 90.0


def handlers_config(tmp_path: Path, **env: str) -> Config:
    """Trades and candles handlers; candles close on trades only, so runs compare exactly."""
    return make_config(
        tmp_path,
        **({"PLUGINS__ENABLED": '["trades", "candles"]', "PLUGINS__CANDLES__CLOSE_ON_CLOCK": "false"} | env),
    )


def expected_trades(records: list[Recorded]) -> list[Trade]:
    """The recording's trades as the stream carries them (receive time 0)."""
    trades = []
    for record in records:
        frame = json.dumps({"stream": record.stream, "data": record.data}).encode()
        trade = decode_frame(frame, received_at=0)
        assert isinstance(trade, Trade)
        trades.append(trade)
    return trades


def key(trade: Trade) -> tuple[Any, ...]:
    """What must survive the trip exactly (event and receive times aside: REST has neither)."""
    return (trade.symbol, trade.trade_id, str(trade.price), str(trade.quantity), trade.time,
            trade.buyer_is_maker, trade.count)  # fmt: skip


def aggregated(trades: list[Trade]) -> list[tuple[Any, ...]]:
    """The candles a clean, in-order pass over `trades` leaves in storage, as rows."""
    aggregator = CandleAggregator()
    latest: dict[tuple[str, str, int], Candle] = {}
    for candle in aggregator.add(trades):
        latest[(candle.symbol, candle.interval, candle.open_time)] = candle
    return sorted(
        (c.symbol, c.interval, c.open_time, str(c.open), str(c.high), str(c.low), str(c.close), str(c.volume),
         c.trades, str(c.quote_volume), str(c.taker_buy_volume), int(c.closed), c.last_trade_id)
        for c in latest.values()
    )  # fmt: skip


def stored(db: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def stored_candles(db: Path) -> list[tuple[Any, ...]]:
    return stored(db, "SELECT * FROM candles ORDER BY symbol, interval, open_time")


def stored_trade_keys(db: Path) -> list[tuple[Any, ...]]:
    rows = stored(
        db,
        "SELECT symbol, trade_id, price, quantity, time, buyer_is_maker, count FROM trades"
        " ORDER BY symbol, trade_id",
    )
    return [(*row[:5], bool(row[5]), row[6]) for row in rows]


class Collector:
    """A runtime with the binance plugin pointed at `fake` (or at the `ws_url` and `rest_url`
    options); `config` may enable and configure it instead."""

    def __init__(
        self,
        tmp_path: Path,
        fake: FakeBinance | None,
        symbols: list[str],
        config: Config | None = None,
        **options: Any,
    ) -> None:
        self.db = tmp_path / "test.db"
        self.config = config or handlers_config(tmp_path)
        plugins = select(self.config, discover())
        if not any(p.spec.name == "binance" for p in plugins):
            urls = {"ws_url": fake.ws_url, "rest_url": fake.rest_url} if fake is not None else {}
            binance = BinanceConfig(symbols=symbols, **(FAST | urls | options))
            plugins.insert(0, LoadedPlugin(discover()["binance"], binance))
        self.runtime = Runtime(self.config, plugins)
        self.seen: list[Trade] = []
        self.newest: dict[str, int] = {}
        """The newest id the observer saw per symbol."""
        self._observer: asyncio.Task[None] | None = None

    @property
    def plugin(self) -> BinancePlugin:
        plugin = self.runtime.instances["binance"]
        assert isinstance(plugin, BinancePlugin)
        return plugin

    def status(self) -> dict[str, Any]:
        return self.plugin.status()

    async def start(self) -> Collector:
        sub = self.runtime.bus.subscribe([TOPIC_RAW_TRADES], "observer", Trade)
        self._observer = asyncio.create_task(self._observe(sub))
        await self.runtime.start()
        return self

    async def _observe(self, sub: Subscription) -> None:
        while True:
            try:
                _topic, trades = await sub.get()
            except BusClosed:
                return
            self.seen.extend(trades)
            for trade in trades:
                self.newest[trade.symbol] = trade.trade_id
            await sub.commit()

    async def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Poll `condition` (a counter or a status), failing after a generous deadline."""
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; status: {self.status()}")
            await asyncio.sleep(0.02)

    async def wait_complete(self, last_ids: dict[str, int]) -> None:
        """Until every symbol has handed out its last id and the observer has seen it."""

        def done() -> bool:
            symbols = self.status()["symbols"]
            return all(
                symbols[s]["last_trade_id"] == i and symbols[s]["state"] == "live" and self.newest.get(s) == i
                for s, i in last_ids.items()
            )

        await self.wait_until(done, f"last ids {last_ids}")

    async def stop(self) -> None:
        await self.runtime.stop()
        if self._observer is not None:
            await asyncio.wait_for(self._observer, DEADLINE_S)


def last_ids(records: list[Recorded]) -> dict[str, int]:
    return {r.symbol: r.id for r in records}


def in_order_once(seen: list[Trade], symbol: str) -> list[int]:
    """The ids published for `symbol`, checked strictly increasing (so each at most once)."""
    ids = [t.trade_id for t in seen if t.symbol == symbol]
    assert all(a < b for a, b in itertools.pairwise(ids)), "published out of order or twice"
    return ids
