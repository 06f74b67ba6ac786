"""The real-server hub tests run on both WebSocket paths: the hub's own listener in front of
granian (`server.ws_frontend`, the default) and granian's ASGI WebSocket behind it switched off."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", params=[True, False], ids=["front", "asgi"])
def frontend(request: pytest.FixtureRequest) -> bool:
    """`server.ws_frontend` of the server a test starts."""
    value: bool = request.param
    return value
