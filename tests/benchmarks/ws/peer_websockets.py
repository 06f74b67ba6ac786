"""Peer 1: a naive hub on the `websockets` library, one `broadcast()` per message.

The simplest fast hub one writes with that library: a set of subscribed connections,
each trade encoded once and pushed to all of them. It is fed the same trades as
CryptoViz (the feeder's sequence and pacing) and sends frames of the same shape.
Run by bench_ws.py: `python -m tests.benchmarks.ws.peer_websockets --port P --control DIR`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from decimal import Decimal
from pathlib import Path

import msgspec
from websockets.asyncio.server import ServerConnection, broadcast, serve

from cryptoviz.models import Trade
from tests.benchmarks.ws.feeder.wsbench_feeder import Stamper, feed, make_trade, wait_command, write_done


class TradeData(msgspec.Struct):
    symbol: str
    price: Decimal
    quantity: Decimal
    side: str
    time: str
    trade_id: int


class TradeFrame(msgspec.Struct):
    type: str
    data: TradeData
    timestamp: int
    seq: int


_encode = msgspec.json.Encoder(decimal_format="number").encode


class NaiveHub:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.clients: set[ServerConnection] = set()
        self.seq = 0

    async def handler(self, ws: ServerConnection) -> None:
        try:
            async for message in ws:
                request = msgspec.json.decode(message)
                if isinstance(request, dict) and request.get("action") == "subscribe":
                    echo = {"type": request.get("type"), "symbol": request.get("symbol"), "timeframe": None}
                    await ws.send(_encode({"type": "subscribed", "data": echo, "timestamp": _now_ms()}))
                    self.clients.add(ws)
        finally:
            self.clients.discard(ws)

    async def publish(self, first: int, ids: range) -> None:
        for j, trade_id in enumerate(ids):
            self.broadcast(make_trade(self.symbol, first + j, trade_id))

    def broadcast(self, trade: Trade) -> None:
        self.seq += 1
        data = TradeData(
            trade.symbol, trade.price, trade.quantity, trade.side, _rfc3339_ms(trade.time), trade.trade_id
        )
        broadcast(self.clients, _encode(TradeFrame("trade", data, _now_ms(), self.seq)), text=True)


def _rfc3339_ms(ms: int) -> str:
    """Trade times as the hub writes them: RFC 3339 UTC, always with milliseconds."""
    seconds, millis = divmod(ms, 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}Z"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def main(port: int, control: Path) -> None:
    hub, stamper = NaiveHub("BTCUSDT"), Stamper()
    async with serve(hub.handler, "127.0.0.1", port, compression=None, backlog=1024):
        for run in itertools.count(1):
            cmd = await wait_command(control, run)
            write_done(control, await feed(cmd, stamper, hub.publish))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.control))
