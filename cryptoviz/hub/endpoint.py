"""`/ws/crypto` as a raw ASGI handler: the handshake and the reading side of each connection.

Raw ASGI, ahead of Litestar's routing, rather than Litestar's WebSocket wrapper: every frame
is one `send` of a prebuilt, shared event straight to the server, with no per-message
wrapper, and that per-delivery cost is what limits a fan-out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from litestar.types import ASGIApp, Scope
from litestar.types import Receive as LitestarReceive
from litestar.types import Send as LitestarSend

from cryptoviz.api.schemas import ErrorBody, ErrorEnvelope
from cryptoviz.codec import encode_json
from cryptoviz.hub.client import Client
from cryptoviz.hub.hub import Hub
from cryptoviz.tasks import cancel_and_wait
from cryptoviz.timeutil import now_ms, to_rfc3339

log = logging.getLogger(__name__)
PATHS = frozenset({"/ws/crypto", "/ws/crypto/"})
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def too_large(raw: str | bytes, limit: int) -> bool:
    """Over `limit` bytes once UTF-8 encoded (text frames arrive decoded)."""
    if isinstance(raw, bytes):
        return len(raw) > limit
    if len(raw) > limit:
        return True
    if len(raw) * 4 <= limit or raw.isascii():
        return False
    return len(raw.encode("utf-8", "surrogatepass")) > limit


async def serve_connection(hub: Hub, scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """One connection, from the handshake to the last frame."""
    if scope["type"] != "websocket":
        await _upgrade_required(send)
        return
    if (await receive())["type"] != "websocket.connect":
        return
    client = hub.connect(send)
    if client is None:
        if hub.closing:
            await send({"type": "websocket.close", "code": 1001, "reason": "server shutting down"})
        else:
            await send({"type": "websocket.close", "code": 1013, "reason": "too many connections; try later"})
        return
    reader: asyncio.Task[bool] | None = None
    try:
        await send({"type": "websocket.accept"})
        reader = client.reader = asyncio.create_task(
            _read(hub, client, receive), name=f"hub-reader-{client.id}"
        )
        await asyncio.wait([reader])
    finally:
        gone = _left(reader)
        try:
            await cancel_and_wait(reader)
            await _finish(client, hub.config.close_timeout_seconds, gone)
        finally:
            hub.disconnect(client)


async def _read(hub: Hub, client: Client, receive: Receive) -> bool:
    """Handle client messages until the client leaves (True) or the hub closes it (False).

    Runs as a task of its own because the server holds a pending `receive` against any
    close: when the hub closes the client, it cancels this task first (see Client.close).
    """
    limit = hub.config.max_message_bytes
    while True:
        try:
            event = await receive()
        except Exception as exc:  # the server lost the connection
            log.debug("WebSocket client %d: receive failed: %r", client.id, exc)
            return True
        kind = event["type"]
        if kind == "websocket.disconnect":
            return True
        if kind != "websocket.receive":
            continue
        text = event.get("text")
        raw: str | bytes = text if text is not None else (event.get("bytes") or b"")
        if too_large(raw, limit):
            hub.close(client, 1009, f"message larger than {limit} bytes")
            return False
        hub.receive(client, raw)
        await client.wait_room()  # no further request while the replies cannot go out
        if client.close_code:
            return False


def _left(reader: asyncio.Task[bool] | None) -> bool:
    """The reader saw the client leave (rather than being stopped, or failing)."""
    if reader is None or not reader.done() or reader.cancelled() or reader.exception() is not None:
        return False
    return reader.result()


async def _finish(client: Client, grace: float, gone: bool) -> None:
    """Give a client the hub closed `grace` seconds to take its close frame, then let go."""
    closer = client.closer
    if closer is not None:
        if not gone:
            await asyncio.wait([closer], timeout=grace)
        closer.cancel()
        await asyncio.wait([closer])
    client.abort()


async def _upgrade_required(send: Send) -> None:
    body = ErrorEnvelope(
        False, ErrorBody("upgrade_required", "/ws/crypto is a WebSocket endpoint"), to_rfc3339(now_ms())
    )
    await send(
        {
            "type": "http.response.start",
            "status": 426,
            "headers": [(b"content-type", b"application/json"), (b"upgrade", b"websocket")],
        }
    )
    await send({"type": "http.response.body", "body": encode_json(body)})


def front_door(hub: Hub, inner: ASGIApp) -> ASGIApp:
    """`/ws/crypto` served ahead of Litestar's exception wrapper, everything else by `inner`.

    The wrapper turns each `send` into a coroutine; the hub needs the server's own callable,
    whose awaitable takes a completion callback (see `client.py`).
    """

    async def app(scope: Scope, receive: LitestarReceive, send: LitestarSend) -> None:
        if scope["path"] in PATHS:
            await serve_connection(
                hub, cast("dict[str, Any]", scope), cast(Receive, receive), cast(Send, send)
            )
        else:
            await inner(scope, receive, send)

    return app
