"""`GET /metrics`: Prometheus text exposition format 0.0.4."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from cryptoviz.observability.metrics import CONTENT_TYPE, Metrics


@get("/metrics", tags=["operations"], media_type=CONTENT_TYPE)
async def metrics(state: State) -> Response[bytes]:
    """Ingest, lag, queues, WebSocket, storage latency, dedup and process metrics; see the README."""
    registry: Metrics = state.metrics
    return Response(await registry.render(), media_type=CONTENT_TYPE)
