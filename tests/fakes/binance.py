"""A fake Binance spot on one loopback port: combined-stream WebSocket plus REST trades.

It plays the trades of a real recording (`../shared/data/binance`) the way the exchange
would: a clock starts with the first subscription (or `play()`), each recorded trade is
published when its time comes (at `speed` times real time, or at a fixed `rate`), every
connection subscribed to its stream receives it from then on, and a trade published
while nobody listens is missed by the stream but served by REST. REST answers
`/api/v3/historicalTrades` and `/api/v3/aggTrades` by `fromId`, from the same recording,
up to the newest published id, with `X-MBX-USED-WEIGHT-1M`.

Commands: `drop_every(n)` and `drop_now()` (a close frame or an abrupt TCP abort),
`stall()` (open connections stop receiving, as a stuck stream does), `refuse_rest(n,
429|418, retry_after)`, `refuse_connections(n, 429, retry_after)` (handshakes),
`announce_shutdown()`. It pings clients every `ping_every`
seconds and counts their pongs. `loop=True` plays the recording forever, each pass
shifted up in ids and forward in time (for benchmarks).

Run alone (a benchmark keeps it out of the measured process):
`python -m tests.fakes.binance FILE [--rate N] [--speed X] [--loop]` prints `READY <ws_url> <rest_url>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

WEIGHTS = {"/api/v3/historicalTrades": 25, "/api/v3/aggTrades": 4}
KINDS = {"/api/v3/historicalTrades": "trade", "/api/v3/aggTrades": "aggTrade"}


@dataclass(frozen=True)
class Recorded:
    """One recorded trade: its stream, symbol, id, trade time and payload as recorded."""

    stream: str
    kind: str
    symbol: str
    id: int
    time: int
    data: dict[str, Any]


def load_trades(path: Path, limit: int | None = None) -> list[Recorded]:
    """The `@trade` and `@aggTrade` messages of a recording, in order (a `<ns> ` receive-time
    prefix is dropped). Ids must be contiguous per symbol, as Binance's are."""
    opener = gzip.open if path.name.endswith(".gz") else open
    trades: list[Recorded] = []
    with opener(path, "rb") as lines:
        for line in lines:
            if b'@trade"' not in line and b'@aggTrade"' not in line:
                continue
            message = json.loads(line[line.index(b"{") :])
            data = message["data"]
            kind = data["e"]
            ident = data["t"] if kind == "trade" else data["a"]
            trades.append(Recorded(message["stream"], kind, data["s"], ident, data["T"], data))
            if limit is not None and len(trades) >= limit:
                break
    for symbol in {t.symbol for t in trades}:
        ids = [t.id for t in trades if t.symbol == symbol]
        assert ids == list(range(ids[0], ids[0] + len(ids))), f"{symbol}: ids not contiguous"
    return trades


@dataclass
class _Client:
    ws: ServerConnection
    streams: set[str]
    sent: int = 0
    stalled: bool = False
    controls: list[float] = field(default_factory=list)


class FakeBinance:
    def __init__(
        self,
        trades: list[Recorded],
        *,
        speed: float = 0.0,
        rate: float | None = None,
        loop: bool = False,
        ping_every: float | None = None,
        autoplay: bool = True,
        weight_window: float = 60.0,
        weight_limit: int = 6000,
    ) -> None:
        """`speed`: times real time (0: as fast as the clients take it); `rate`: trades per
        second whatever the recorded times."""
        self.trades = trades
        self.speed = speed
        self.rate = rate
        self.loop = loop
        self.ping_every = ping_every
        self.autoplay = autoplay
        self.weight_window = weight_window
        self.weight_limit = weight_limit
        self._by_symbol: dict[str, list[Recorded]] = {}
        for trade in trades:
            self._by_symbol.setdefault(trade.symbol, []).append(trade)
        self._duration = trades[-1].time - trades[0].time + 1000
        self._raw_trades = {  # raw trades per symbol and pass: aggTrade `f`/`l` shift by it
            symbol: sum(r.data["l"] - r.data["f"] + 1 if r.kind == "aggTrade" else 1 for r in records)
            for symbol, records in self._by_symbol.items()
        }
        self.published = 0
        """Trades published so far (the exchange's clock), passes included."""
        self.newest: dict[str, int] = {}
        self.clients: list[_Client] = []
        self.connections = 0
        self.paths: list[str] = []
        self.subscribe_frames: list[dict[str, Any]] = []
        self.control_violations = 0
        self.pongs = 0
        self.drops = 0
        self.drop_times: list[float] = []
        self.rest_log: list[tuple[float, str, dict[str, str], int]] = []
        self.finished = asyncio.Event()
        self._drop_every: int | None = None
        self._drop_mode = "close"
        self._refuse: list[tuple[int, float | None]] = []
        self._refuse_ws: list[tuple[int, float | None]] = []
        self.refused_connections: list[float] = []
        self.connect_times: list[float] = []
        self._weight_used: dict[int, int] = {}
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._player: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeBinance:
        self._server = await serve(
            self._handler, "127.0.0.1", 0, process_request=self._process_request, ping_interval=None
        )
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def play(self) -> None:
        if self._player is None:
            self._player = asyncio.create_task(self._play(), name="fake-binance-player")

    async def stop(self) -> None:
        for task in [self._player, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._player, *self._tasks] if t), return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> FakeBinance:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- commands ----------------------------------------------------------------------------

    def drop_every(self, count: int | None, mode: str = "close") -> None:
        """Drop each connection after every `count` messages sent on it (None: stop dropping)."""
        self._drop_every = count
        self._drop_mode = mode

    def drop_now(self, mode: str = "close") -> None:
        for client in list(self.clients):
            self._drop(client, mode)

    def stall(self) -> None:
        """The open connections stay open but receive nothing more; new ones are fine."""
        for client in self.clients:
            client.stalled = True

    def refuse_rest(self, count: int, status: int = 429, retry_after: float | None = 1.0) -> None:
        """Answer the next `count` REST requests with `status` and `Retry-After`."""
        self._refuse.extend([(status, retry_after)] * count)

    def refuse_connections(self, count: int, status: int = 429, retry_after: float | None = 1.0) -> None:
        """Refuse the next `count` WebSocket handshakes with `status` and `Retry-After`."""
        self._refuse_ws.extend([(status, retry_after)] * count)

    def announce_shutdown(self) -> None:
        frame = json.dumps({"e": "serverShutdown", "E": int(time.time() * 1000)})
        for client in self.clients:
            self._spawn(self._send(client, frame))

    # --- the exchange's clock ----------------------------------------------------------------

    def record(self, g: int) -> Recorded:
        """The g-th trade ever published: a recorded one, shifted up for later passes."""
        base = self.trades[g % len(self.trades)]
        passes = g // len(self.trades)
        return base if passes == 0 else self._shifted(base, passes)

    def _shifted(self, base: Recorded, passes: int) -> Recorded:
        span = len(self._by_symbol[base.symbol])
        data = dict(base.data)
        id_key = "t" if base.kind == "trade" else "a"
        data[id_key] = base.id + passes * span
        if base.kind == "aggTrade":
            count = data["l"] - data["f"] + 1
            data["f"] += passes * self._raw_trades[base.symbol]
            data["l"] = data["f"] + count - 1
        data["T"] = base.time + passes * self._duration
        data["E"] = data.get("E", base.time) + passes * self._duration
        return Recorded(base.stream, base.kind, base.symbol, data[id_key], data["T"], data)

    async def _play(self) -> None:
        loop = asyncio.get_running_loop()
        origin = loop.time()
        first_time = self.trades[0].time
        g = 0
        total = len(self.trades)
        while self.loop or g < total:
            record = self.record(g)
            if self.rate is not None:
                due = origin + g / self.rate
            elif self.speed > 0:
                due = origin + (record.time - first_time) / 1000 / self.speed
            else:
                due = 0.0
            delay = due - loop.time()
            if delay > 0.001:
                await asyncio.sleep(delay)
            elif g % 200 == 0:
                await asyncio.sleep(0)
            self.published = g + 1
            self.newest[record.symbol] = record.id
            frame = json.dumps({"stream": record.stream, "data": record.data}, separators=(",", ":"))
            for client in list(self.clients):
                if record.stream in client.streams and not client.stalled:
                    await self._send(client, frame)
            g += 1
        self.finished.set()

    async def _send(self, client: _Client, frame: str) -> None:
        try:
            await client.ws.send(frame)
        except ConnectionClosed:
            return
        client.sent += 1
        if self._drop_every and client.sent % self._drop_every == 0:
            self._drop(client, self._drop_mode)

    def _drop(self, client: _Client, mode: str) -> None:
        if client not in self.clients:
            return
        self.clients.remove(client)
        self.drops += 1
        self.drop_times.append(time.monotonic())
        if mode == "abort":
            client.ws.transport.abort()
        else:
            self._spawn(client.ws.close(1001, "going away"))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- WebSocket -------------------------------------------------------------------------

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        url = urllib.parse.urlsplit(ws.request.path)
        self.paths.append(ws.request.path)
        query = urllib.parse.parse_qs(url.query)
        streams = {s for value in query.get("streams", []) for s in value.split("/") if s}
        client = _Client(ws, streams)
        self.clients.append(client)
        self.connections += 1
        self.connect_times.append(time.monotonic())
        if self.autoplay and streams:
            self.play()
        pinger = asyncio.create_task(self._ping(ws)) if self.ping_every else None
        try:
            async for message in ws:
                self._control(client, message)
        except ConnectionClosed:
            pass
        finally:
            if pinger is not None:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinger
            if client in self.clients:
                self.clients.remove(client)

    def _control(self, client: _Client, message: str | bytes) -> None:
        now = time.monotonic()
        client.controls = [t for t in client.controls if now - t < 1.0] + [now]
        if len(client.controls) > 5:
            self.control_violations += 1
        request = json.loads(message)
        self.subscribe_frames.append(request)
        if request.get("method") == "SUBSCRIBE":
            client.streams.update(request["params"])
            self._spawn(self._send(client, json.dumps({"result": None, "id": request["id"]})))
            if self.autoplay:
                self.play()

    async def _ping(self, ws: ServerConnection) -> None:
        assert self.ping_every is not None
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.ping_every)
                waiter = await ws.ping()
                await asyncio.wait_for(waiter, 10)
                self.pongs += 1

    # --- REST --------------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if self._refuse_ws:
                status, wait = self._refuse_ws.pop(0)
                self.refused_connections.append(time.monotonic())
                headers = {"Retry-After": f"{wait:g}"} if wait is not None else {}
                return _json(status, {"code": -1003, "msg": "Too many connection attempts."}, headers)
            if urllib.parse.urlsplit(request.path).path == "/stream":
                return None
            return _json(404, {"code": -1, "msg": "no such stream path"})
        url = urllib.parse.urlsplit(request.path)
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        response = self._rest(url.path, params)
        self.rest_log.append((time.time(), url.path, params, response.status_code))
        return response

    def _rest(self, path: str, params: dict[str, str]) -> Response:
        if path not in KINDS:
            return _json(404, {"code": -1, "msg": f"no route {path}"})
        window = int(time.time() // self.weight_window)
        used = self._weight_used[window] = self._weight_used.get(window, 0) + WEIGHTS[path]
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        if self._refuse:
            status, wait = self._refuse.pop(0)
            if wait is not None:
                headers["Retry-After"] = f"{wait:g}"
            return _json(status, {"code": -1003, "msg": "Too many requests; IP banned for now."}, headers)
        if used > self.weight_limit:
            headers["Retry-After"] = str(int((window + 1) * self.weight_window - time.time()) + 1)
            return _json(429, {"code": -1003, "msg": "Too much request weight used."}, headers)
        symbol = params.get("symbol", "")
        records = self._by_symbol.get(symbol)
        if not records or records[0].kind != KINDS[path]:
            return _json(400, {"code": -1121, "msg": "Invalid symbol."}, headers)
        try:
            limit = int(params.get("limit", "500"))
            from_id = int(params["fromId"]) if "fromId" in params else None
        except ValueError:
            return _json(400, {"code": -1100, "msg": "Illegal characters found in a parameter."}, headers)
        if not 1 <= limit <= 1000:
            return _json(400, {"code": -1100, "msg": "limit out of range"}, headers)
        newest = self.newest.get(symbol)
        if newest is None:
            return _json(200, [], headers)
        if from_id is None:
            from_id = max(records[0].id, newest - limit + 1)
        ids = range(max(from_id, records[0].id), min(from_id + limit - 1, newest) + 1)
        return _json(200, [_rest_record(self._by_id(symbol, i)) for i in ids], headers)

    def _by_id(self, symbol: str, ident: int) -> Recorded:
        records = self._by_symbol[symbol]
        passes, k = divmod(ident - records[0].id, len(records))
        return records[k] if passes == 0 else self._shifted(records[k], passes)


def _rest_record(record: Recorded) -> dict[str, Any]:
    data = record.data
    if record.kind == "trade":
        quote = Decimal(data["p"]) * Decimal(data["q"])
        return {
            "id": data["t"], "price": data["p"], "qty": data["q"], "quoteQty": str(quote),
            "time": data["T"], "isBuyerMaker": data["m"], "isBestMatch": True,
        }  # fmt: skip
    return {k: data[k] for k in ("a", "p", "q", "f", "l", "T", "m")} | {"M": True}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(body, separators=(",", ":")).encode()
    pairs = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    pairs += [("Connection", "close"), *(headers or {}).items()]
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 418: "I'm a teapot"}.get(status, "Error")
    if status == 429:
        reason = "Too Many Requests"
    return Response(status, reason, Headers(pairs), payload)


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("recording", type=Path)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--loop", action="store_true")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    fake = FakeBinance(
        load_trades(args.recording, args.limit), speed=args.speed, rate=args.rate, loop=args.loop
    )
    async with fake:
        print(f"READY {fake.ws_url} {fake.rest_url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
