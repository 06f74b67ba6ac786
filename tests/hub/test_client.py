"""A client's buffer policy (coalesce candles, then drop the oldest trades, then tell the
client) and its writer: order, the `lagged` notice, the close frame, request backpressure."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cryptoviz.hub.client import Client
from cryptoviz.hub.messages import CANDLE, CONTROL, TRADE, Encoder, Event, Frame

CAP = 8
LOW = 6  # three quarters of CAP, rounded as the client does


def data(kind: int, name: str, key: Any = None) -> Frame:
    return Frame(kind, None, key=key, event={"type": "websocket.send", "text": name})


def names(client: Client) -> list[str]:
    return ["LAG" if f.event is None else f.event["text"] for f in client.buf]


class Recorder:
    """The server side of `send` for the writer: keeps every event, optionally held back."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, event: Event) -> None:
        await self.gate.wait()
        self.events.append(event)

    def texts(self) -> list[Any]:
        """The text of each data or control frame, decoded when it is JSON."""
        texts = [e["text"] for e in self.events if e["type"] == "websocket.send"]
        return [json.loads(t) if t.startswith("{") else t for t in texts]


def make(send: Recorder | None = None) -> Client:
    return Client(1, send or Recorder(), CAP, Encoder())


async def test_frames_go_out_in_order_one_send_at_a_time() -> None:
    send = Recorder()
    send.gate.clear()
    client = make(send)
    for i in range(5):
        client.push(data(TRADE, f"t{i}"))
    assert client.inflight
    assert names(client) == ["t1", "t2", "t3", "t4"]  # t0 is in flight
    send.gate.set()
    await _until(lambda: client.sent == 5)
    assert send.texts() == [f"t{i}" for i in range(5)]
    assert not client.busy()
    assert client.lag == [0, 0, 0]


async def test_full_buffer_coalesces_older_updates_of_the_same_candle_first() -> None:
    send = Recorder()
    send.gate.clear()
    client = make(send)
    a, b = ("BTCUSDT", "1m", 0), ("BTCUSDT", "1m", 60_000)
    client.push(data(TRADE, "in-flight"))
    for i in range(3):
        client.push(data(CANDLE, f"a{i}", a))
    client.push(data(TRADE, "t0"))
    client.push(data(CANDLE, "b0", b))
    client.push(data(CANDLE, "b1", b))
    client.push(data(TRADE, "t1"))
    client.push(data(CANDLE, "other-tf", ("BTCUSDT", "5s", 0)))
    client.push(data(CANDLE, "a3", a))  # full: a0-a2 and b0 are superseded
    assert names(client) == ["LAG", "t0", "b1", "t1", "other-tf", "a3"]
    assert (client.coalesced, client.dropped_trades, client.lag) == (4, 0, [0, 4, 0])
    send.gate.set()
    await _until(lambda: not client.busy())


async def test_then_the_oldest_trades_go_down_to_three_quarters() -> None:
    send = Recorder()
    send.gate.clear()
    client = make(send)
    client.push(data(TRADE, "in-flight"))
    client.push_control(data(CONTROL, "reply"))
    for i in range(CAP - 1):
        client.push(data(TRADE, f"t{i}"))
    client.push(data(TRADE, "t7"))
    assert names(client) == ["LAG", "reply", "t3", "t4", "t5", "t6", "t7"]
    assert len(client.buf) - 1 == LOW
    assert (client.dropped_trades, client.lag) == (3, [3, 0, 0])
    client.push(data(TRADE, "t8"))  # room again: no more work, no second notice
    assert names(client)[-2:] == ["t7", "t8"]
    assert names(client).count("LAG") == 1
    send.gate.set()
    await _until(lambda: not client.busy())


async def test_replies_are_never_dropped_and_a_newcomer_is_lost_when_nothing_else_can_go() -> None:
    send = Recorder()
    send.gate.clear()
    client = make(send)
    for i in range(CAP + 1):
        client.push_control(data(CONTROL, f"c{i}"))  # c0 in flight
    client.push(data(TRADE, "late-trade"))
    client.push(data(CANDLE, "late-candle", ("X", "1m", 0)))
    client.push_control(data(CONTROL, "one-more-reply"))
    assert names(client) == ["LAG", *[f"c{i}" for i in range(1, CAP + 1)], "one-more-reply"]
    assert (client.dropped_trades, client.dropped, client.lag) == (1, 1, [1, 0, 1])
    assert client.full_since is not None
    send.gate.set()
    await _until(lambda: not client.busy())
    assert client.full_since is None  # cleared once the buffer emptied


async def test_the_lagged_notice_goes_out_ahead_of_what_is_left() -> None:
    send = Recorder()
    send.gate.clear()
    client = make(send)
    for i in range(12):
        client.push(data(TRADE, f"t{i}"))
    # t0 in flight; t1-t8 filled the buffer; t9 dropped t1-t3; t10 fitted; t11 dropped t4-t5
    send.gate.set()
    await _until(lambda: not client.busy())
    texts = send.texts()
    assert texts[0] == "t0"
    assert texts[1]["type"] == "lagged"
    assert texts[1]["data"] == {"dropped_trades": 5, "coalesced_candles": 0, "dropped_messages": 0}
    assert texts[2:] == [f"t{i}" for i in range(6, 12)]
    assert client.sent == len(texts)


async def test_close_drops_what_waits_and_sends_the_close_frame_after_the_send_in_progress() -> None:
    send = Recorder()
    send.gate.clear()
    client = make(send)
    for i in range(3):
        client.push(data(TRADE, f"t{i}"))
    client.close(1008, "slow")
    client.close(1000, "ignored: already closing")
    client.push_control(data(CONTROL, "reply after close"))
    assert client.closer is not None
    await asyncio.sleep(0.01)
    assert not client.closer.done()  # waits for t0
    send.gate.set()
    await asyncio.wait_for(client.closer, 5)
    assert send.events == [
        {"type": "websocket.send", "text": "t0"},
        {"type": "websocket.close", "code": 1008, "reason": "slow"},
    ]


async def test_a_full_buffer_holds_requests_back_until_a_send_makes_room() -> None:
    send = Recorder()
    send.gate.clear()
    client = make(send)
    for i in range(CAP + 1):
        client.push_control(data(CONTROL, f"c{i}"))
    waiting = asyncio.create_task(client.wait_room())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    send.gate.set()
    await asyncio.wait_for(waiting, 5)
    assert len(client.buf) < CAP
    await _until(lambda: not client.busy())


async def test_a_failed_send_stops_the_client_quietly() -> None:
    async def broken(event: Event) -> None:
        raise ConnectionResetError("peer gone")

    client = Client(1, broken, CAP, Encoder())
    for i in range(3):
        client.push(data(TRADE, f"t{i}"))
    await _until(lambda: client.broken)
    assert (client.sent, list(client.buf)) == (0, [])
    client.push(data(TRADE, "after"))  # kept, never sent: the reader ends the connection
    client.close(1001, "bye")
    assert client.closer is not None
    await asyncio.wait_for(client.closer, 5)


async def _until(condition: Any, deadline: float = 5.0) -> None:
    """Poll a condition on plain attributes (nothing to wait on), within a deadline."""
    async with asyncio.timeout(deadline):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)
