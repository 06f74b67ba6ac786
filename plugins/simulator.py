"""Simulator: a seeded random walk of trades, for demos without a network.

Prices move in ticks with a slight mean reversion; sizes are log-normal like real
order flow (many small trades, a few large ones); about half the trades are buys.
The same seed gives the same sequence of prices, sizes and sides.
"""

from __future__ import annotations

import asyncio
import math
import random
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from cryptoviz.models import TOPIC_RAW_TRADES, Trade
from cryptoviz.plugin import PluginContext, PluginSpec
from cryptoviz.tasks import cancel_and_wait

EXCHANGE = "simulator"
_START_PRICES = {"BTC": 60_000, "ETH": 3_000, "SOL": 150, "BNB": 550, "XRP": 0.6, "DOGE": 0.15}
_TICK_SECONDS = 0.1


class SimulatorConfig(msgspec.Struct, forbid_unknown_fields=True):
    symbols: Annotated[
        list[Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{2,20}$")]], msgspec.Meta(min_length=1)
    ] = msgspec.field(default_factory=lambda: ["BTCUSDT", "ETHUSDT"])
    seed: int = 42
    trades_per_second: Annotated[float, msgspec.Meta(gt=0, le=100_000)] = 20.0


class _Walk:
    """One symbol's price process, in integer ticks so every price is an exact decimal."""

    def __init__(self, symbol: str, rng: random.Random, next_id: int) -> None:
        base = next((p for prefix, p in _START_PRICES.items() if symbol.startswith(prefix)), 100)
        self.tick_exp = max(2, 5 - int(math.log10(base)))  # ~5-6 significant digits
        self.anchor = round(base * 10**self.tick_exp)
        self.ticks = self.anchor
        self.size_exp = max(3, int(math.log10(base)) + 1)
        self.mean_size = 1000 / base  # about 1,000 quote units per trade
        self.rng = rng
        self.symbol = symbol
        self.next_id = next_id

    def trade(self, time_ms: int) -> Trade:
        rng = self.rng
        drift = (self.anchor - self.ticks) * 0.0005
        self.ticks = max(1, self.ticks + round(rng.gauss(drift, self.anchor * 0.0002)))
        size = max(1, round(rng.lognormvariate(math.log(self.mean_size), 1.2) * 10**self.size_exp))
        trade = Trade(
            exchange=EXCHANGE,
            symbol=self.symbol,
            trade_id=self.next_id,
            price=Decimal(self.ticks).scaleb(-self.tick_exp),
            quantity=Decimal(size).scaleb(-self.size_exp),
            time=time_ms,
            buyer_is_maker=rng.random() < 0.5,
            event_time=time_ms,
            received_at=time_ms,
        )
        self.next_id += 1
        return trade


class SimulatorPlugin:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.published = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self, ctx: PluginContext) -> None:
        last_ids = await ctx.storage.last_trade_ids()
        rng = random.Random(self.config.seed)
        walks = [_Walk(s, rng, last_ids.get((EXCHANGE, s), 0) + 1) for s in self.config.symbols]
        self._task = ctx.tasks.spawn(self._run(ctx, walks, rng), "simulator")

    async def _run(self, ctx: PluginContext, walks: list[_Walk], rng: random.Random) -> None:
        per_tick = self.config.trades_per_second * _TICK_SECONDS / len(walks)
        while True:
            now = ctx.clock()
            batch: list[Trade] = []
            for walk in walks:
                count = _poisson(rng, per_tick)
                batch.extend(walk.trade(now) for _ in range(count))
            if batch:
                await ctx.bus.publish(TOPIC_RAW_TRADES, batch)
                self.published += len(batch)
            await asyncio.sleep(_TICK_SECONDS)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    def status(self) -> dict[str, Any]:
        return {"ok": self._task is not None and not self._task.done(), "published": self.published}


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method for small means, a normal approximation for large ones."""
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


plugin = PluginSpec(
    name="simulator",
    kind="source",
    description="Seeded random-walk trades for offline demos",
    config_type=SimulatorConfig,
    factory=SimulatorPlugin,
)
