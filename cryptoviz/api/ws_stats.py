"""`GET /ws/stats`: the hub's counters, in the guide's own shape `{"status": "ok", "data": ...}`."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from cryptoviz.codec import encode_json
from cryptoviz.runtime import Runtime


@get("/ws/stats", tags=["operations"])
async def ws_stats(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """Connections and messages of the WebSocket hub /ws/crypto, plus what slow clients lost.

    `messages_broadcast` counts data messages fanned out to at least one client,
    `messages_delivered` the frames written to clients, `last_broadcast_time` is epoch ms
    (null before the first broadcast).
    """
    body = {"status": "ok", "data": runtime.hub.snapshot_stats()}
    return Response(encode_json(body), media_type="application/json")
