"""Test feeder plugin: publishes on the server's own bus what a test sends it.

Loaded from `plugins.folder` by the hub's real-server tests. It listens on a loopback
port (written to `port_file`) for JSON lines `{"topic": ..., "kind": "trade"|"candle"|
"indicator"|"news", "items": [...]}`, publishes each line's items as one batch, and answers
`ok` once the bus has taken them, so messages reach the hub exactly as a collector's do.
"""

# No `from __future__ import annotations`: a module loaded from `plugins.folder` is not in
# sys.modules, where msgspec would look names up to resolve string annotations.
import asyncio
from pathlib import Path
from typing import Any

import msgspec

from cryptoviz.models import Candle, IndicatorPoint, NewsItem, Trade
from cryptoviz.plugin import PluginContext, PluginSpec

KINDS: dict[str, type[Any]] = {
    "trade": Trade,
    "candle": Candle,
    "indicator": IndicatorPoint,
    "news": NewsItem,
}


class HubFeedConfig(msgspec.Struct, forbid_unknown_fields=True):
    port_file: str = ""


class Line(msgspec.Struct):
    topic: str
    kind: str
    items: list[msgspec.Raw]


class HubFeed:
    def __init__(self, config: HubFeedConfig) -> None:
        self.config = config
        self.published = 0
        self._server: asyncio.Server | None = None

    async def start(self, ctx: PluginContext) -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while line := await reader.readline():
                    batch = msgspec.json.decode(line, type=Line)
                    kind = KINDS[batch.kind]
                    items = [msgspec.json.decode(raw, type=kind) for raw in batch.items]
                    await ctx.bus.publish(batch.topic, items)
                    self.published += len(items)
                    writer.write(b"ok\n")
                    await writer.drain()
            finally:
                writer.close()

        self._server = await asyncio.start_server(serve, "127.0.0.1", 0, limit=64 * 1024 * 1024)
        port = self._server.sockets[0].getsockname()[1]
        await asyncio.to_thread(Path(self.config.port_file).write_text, str(port))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def status(self) -> dict[str, Any]:
        return {"ok": self._server is not None, "published": self.published}


plugin = PluginSpec(
    name="hubfeed",
    kind="feed",
    description="Test feeder: publishes what a test sends it",
    config_type=HubFeedConfig,
    factory=HubFeed,
)
