"""Fuzzing client messages (hypothesis): the parser only ever answers a command or a
ProtocolError, and the real server answers every message as the rules say (the reply the
parser implies, or a 1009 close past 512 bytes) and keeps serving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptoviz.hub.protocol import ACTIONS, SUB_TYPES, Command, ProtocolError, parse
from cryptoviz.models import INTERVALS
from tests.hub.server import HubServer, connect, recv, running_server

LIMIT = 512
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
"""Any text a WebSocket text frame can carry (no lone surrogates)."""
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), TEXT)


def field(known: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(known), SCALARS, st.lists(SCALARS, max_size=3))


MESSAGES = st.fixed_dictionaries(
    {},
    optional={
        "action": field(list(ACTIONS)),
        "type": field(list(SUB_TYPES)),
        "symbol": field(["BTCUSDT", "*", "ethusdt", "B", "BTC-USD"]),
        "timeframe": field(list(INTERVALS)),
        "since_seq": field([0, 1, 10**6]),
        "extra": SCALARS,
    },
)
FRAMES = st.one_of(
    MESSAGES.map(json.dumps),
    MESSAGES.map(lambda m: json.dumps(m, ensure_ascii=False)),
    TEXT,
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=400, max_size=700),
    st.binary(max_size=600),
)


def expected_reply(frame: str | bytes) -> str:
    """What the rules say the server answers: a reply type or an error code."""
    try:
        command: Command = parse(frame)
    except ProtocolError as exc:
        return f"error:{exc.code}"
    if command.action == "ping":
        return "pong"
    if command.action == "list_subscriptions":
        return "subscriptions"
    return "subscribed" if command.action == "subscribe" else "error:not_subscribed"


CODES = {
    "invalid_json", "invalid_message", "unknown_action", "unknown_type",
    "invalid_symbol", "invalid_timeframe", "invalid_since_seq",
}  # fmt: skip


def outcome(frame: str | bytes) -> Command | ProtocolError:
    try:
        return parse(frame)
    except ProtocolError as exc:
        return exc


@given(FRAMES)
@settings(max_examples=300, database=None)
def test_parse_answers_a_command_or_a_protocol_error_and_nothing_else(frame: str | bytes) -> None:
    result = outcome(frame)
    if isinstance(result, ProtocolError):
        assert result.code in CODES
        assert result.message
    else:
        assert result.action in ACTIONS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, frontend: bool) -> Iterator[HubServer]:
    with running_server(tmp_path_factory.mktemp("fuzz"), frontend=frontend) as srv:
        yield srv


def size(frame: str | bytes) -> int:
    return len(frame.encode() if isinstance(frame, str) else frame)


async def exchange(server: HubServer, frame: str | bytes) -> str:
    """Send one frame on a fresh connection: the reply type (or error code), or `close:<code>`."""
    async with await connect(server) as ws:
        await ws.send(frame)
        try:
            reply = await recv(ws)
        except websockets.ConnectionClosed:
            return f"close:{ws.close_code}"
        return f"error:{reply['data']['code']}" if reply["type"] == "error" else str(reply["type"])


@given(FRAMES)
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_the_server_answers_every_message_as_the_rules_say(server: HubServer, frame: str | bytes) -> None:
    got = asyncio.run(exchange(server, frame))
    assert got == ("close:1009" if size(frame) > LIMIT else expected_reply(frame)), frame
    assert server.proc.poll() is None


def test_the_server_still_serves_after_the_fuzzing(server: HubServer) -> None:
    async def ping() -> str:
        async with await connect(server) as ws:
            await ws.send('{"action": "ping"}')
            return str((await recv(ws))["type"])

    assert asyncio.run(ping()) == "pong"
    assert "Traceback" not in server.output()
