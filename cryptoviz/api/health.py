"""Liveness and readiness."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from cryptoviz.api.envelope import error_response, ok
from cryptoviz.api.schemas import HealthData
from cryptoviz.runtime import Runtime


@get("/health", tags=["operations"])
async def health() -> Response[bytes]:
    """The process is alive and serving HTTP."""
    return ok(HealthData("ok"))


@get("/ready", tags=["operations"])
async def ready(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """Storage, dedup, bus and plugins all working; 503 naming the failing parts otherwise."""
    healthy, details = await runtime.readiness()
    if healthy:
        return ok({"status": "ready", **details})
    failing = [name for name, part in details.items() if isinstance(part, dict) and part.get("ok") is False]
    failing += [f"plugins.{n}" for n, p in details.get("plugins", {}).items() if p.get("ok") is False]
    if not runtime.running:
        failing.insert(0, "runtime")
    return error_response(503, "not_ready", f"not ready: {', '.join(failing) or 'starting'}", details)
