"""The hub as `create_app` wires it, under Litestar's test client rather than granian: the
front door serves /ws/crypto and nothing else, and sends work with a server whose `send`
returns plain coroutines (each is wrapped in a task there)."""

from __future__ import annotations

import json
from pathlib import Path

from litestar.testing import TestClient

from cryptoviz.app import create_app
from tests.conftest import make_config


def test_the_hub_answers_under_another_asgi_server(tmp_path: Path) -> None:
    app = create_app(make_config(tmp_path, PLUGINS__ENABLED="[]"))
    with TestClient(app) as client:
        with client.websocket_connect("/ws/crypto") as ws:
            ws.send_text(json.dumps({"action": "ping"}))
            assert ws.receive_json(timeout=10)["type"] == "pong"
            ws.send_text(json.dumps({"action": "subscribe", "type": "candles", "symbol": "AAA"}))
            reply = ws.receive_json(timeout=10)
            assert reply["data"] == {"type": "candles", "symbol": "AAA", "timeframe": "1m"}
        stats = client.get("/ws/stats").json()
        assert stats["status"] == "ok"
        assert stats["data"]["total_connections"] == 1
        assert stats["data"]["messages_delivered"] == 2
        assert client.get("/ws/crypto").status_code == 426
        assert client.get("/ws/cryptox").status_code == 404  # only the hub's own path
        assert client.get("/health").status_code == 200
