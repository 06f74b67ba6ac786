"""WebSocket benchmark feeder: publishes a fixed run of trades when the driver says so.

Loaded from `plugins.folder` by tests/benchmarks/ws/bench_ws.py, so the trades take the
product's own path (bus, hub, granian) to the clients. It waits for `cmd-<run>.json` in
its control folder, publishes `count` trades at `rate` per second (0: as fast as the
bus takes them), then writes `done-<run>.json`.

Each trade id is the publish time in epoch microseconds, strictly increasing: clients
check the order and measure the latency from it. The naive peer imports the same
sequence and pacing from here; the Node peer (node/server.js) mirrors them.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from cryptoviz.models import TOPIC_RAW_TRADES, Trade
from cryptoviz.plugin import PluginContext, PluginSpec
from cryptoviz.tasks import cancel_and_wait

EXCHANGE = "bench"
PRICES = ("60012.5", "60013.25", "60011.75", "60014.1")
QUANTITIES = ("0.0125", "0.5", "0.00342", "1.2")
"""Message i has price PRICES[i % 4], quantity QUANTITIES[i % 4], and is a buy when i is even."""
_POLL_SECONDS = 0.005


class Command(msgspec.Struct):
    run: int
    count: int
    rate: float = 0.0
    """Messages per second; 0 publishes as fast as the server takes them."""
    batch: int = 50
    """Most messages per publish call."""


class Done(msgspec.Struct):
    run: int
    published: int
    first_us: int
    last_us: int


class Stamper:
    """Publish times in epoch microseconds, strictly increasing even within one microsecond."""

    def __init__(self) -> None:
        self.last = 0

    def take(self, n: int) -> range:
        base = max(time.time_ns() // 1000, self.last + 1)
        self.last = base + n - 1
        return range(base, base + n)


Publish = Callable[[int, range], Awaitable[None]]
"""Publish messages `first_index ...` with these trade ids, one message per id."""


async def wait_command(folder: Path, run: int) -> Command:
    """Poll for the driver's file: a file is what all three servers can watch alike."""
    path = folder / f"cmd-{run}.json"
    while True:
        if path.exists():
            return msgspec.json.decode(path.read_bytes(), type=Command)
        await asyncio.sleep(_POLL_SECONDS)


def write_done(folder: Path, done: Done) -> None:
    tmp = folder / f"done-{done.run}.json.tmp"
    tmp.write_bytes(msgspec.json.encode(done))
    os.replace(tmp, folder / f"done-{done.run}.json")


async def feed(cmd: Command, stamper: Stamper, publish: Publish) -> Done:
    """Publish the run: message i is due `i / rate` seconds after the start.

    Late messages go out together (at most `batch` per call), so a paced run catches up
    instead of drifting. The loop yields after every call, so the server's own tasks run.
    """
    start = time.monotonic()
    sent, first, last = 0, 0, 0
    while sent < cmd.count:
        if cmd.rate > 0:
            elapsed = time.monotonic() - start
            due = min(cmd.count, int(elapsed * cmd.rate) + 1)
            if due <= sent:
                await asyncio.sleep(sent / cmd.rate - elapsed)
                continue
            n = min(due - sent, cmd.batch)
        else:
            n = min(cmd.count - sent, cmd.batch)
        ids = stamper.take(n)
        await publish(sent, ids)
        first = first or ids[0]
        last = ids[-1]
        sent += n
        await asyncio.sleep(0)
    return Done(cmd.run, sent, first, last)


def make_trade(symbol: str, index: int, trade_id: int) -> Trade:
    ms = trade_id // 1000
    return Trade(
        exchange=EXCHANGE,
        symbol=symbol,
        trade_id=trade_id,
        price=Decimal(PRICES[index % 4]),
        quantity=Decimal(QUANTITIES[index % 4]),
        time=ms,
        buyer_is_maker=index % 2 == 1,
        event_time=ms,
        received_at=ms,
    )


class FeederConfig(msgspec.Struct, forbid_unknown_fields=True):
    control_dir: str = ""
    symbol: str = "BTCUSDT"


class Feeder:
    def __init__(self, config: FeederConfig) -> None:
        self.config = config
        self.runs = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self, ctx: PluginContext) -> None:
        if not self.config.control_dir:
            raise ValueError("plugins.wsbench_feeder.control_dir is required")
        self._task = ctx.tasks.spawn(self._serve(ctx), "wsbench_feeder")

    async def _serve(self, ctx: PluginContext) -> None:
        folder, symbol, stamper = Path(self.config.control_dir), self.config.symbol, Stamper()

        async def publish(first: int, ids: range) -> None:
            trades = [make_trade(symbol, first + j, trade_id) for j, trade_id in enumerate(ids)]
            await ctx.bus.publish(TOPIC_RAW_TRADES, trades)

        for run in itertools.count(1):
            cmd = await wait_command(folder, run)
            write_done(folder, await feed(cmd, stamper, publish))
            self.runs = run

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    def status(self) -> dict[str, Any]:
        return {"ok": self._task is not None and not self._task.done(), "runs": self.runs}


plugin = PluginSpec(
    name="wsbench_feeder",
    kind="source",
    description="WebSocket benchmark feeder (tests/benchmarks/ws)",
    config_type=FeederConfig,
    factory=Feeder,
)
