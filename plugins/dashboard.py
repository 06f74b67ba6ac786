"""Dashboard: the web page at `/`, built from `web/` into the package's static folder.

Serves the built files, gzipped when the build left a `.gz` next to them and the browser
takes gzip, with a single-page fallback: a GET of any other path without a file extension
gets the page, so its own URLs survive a reload. Paths under /api, /ws, /health, /ready and
/schema are never answered here, so an unknown API route stays a JSON 404. Without built
files the plugin says so at start, in /ready and on the page.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File
from litestar.types import ControllerRouterHandler

import cryptoviz
from cryptoviz.plugin import PluginContext, PluginSpec

log = logging.getLogger(__name__)

PACKAGED = Path(cryptoviz.__file__).resolve().parent / "static" / "dashboard"
RESERVED = frozenset({"api", "ws", "health", "ready", "schema"})
IMMUTABLE = "public, max-age=31536000, immutable"  # Vite puts a content hash in every asset name
BUILD_HINT = "build them with `make web` (needs Node.js and npm), or install a wheel, which carries them"
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The page talks to its own origin unless VITE_API_URL / VITE_WS_URL say otherwise.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
        " connect-src 'self' http: https: ws: wss:; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class DashboardConfig(msgspec.Struct, forbid_unknown_fields=True):
    assets: str = ""
    """A folder of built dashboard files; empty for the ones the package carries."""


class DashboardPlugin:
    def __init__(self, config: DashboardConfig) -> None:
        self.root = (Path(config.assets) if config.assets else PACKAGED).resolve()
        self.index = self.root / "index.html"

    def missing(self) -> str | None:
        """Why the dashboard cannot be served, or None."""
        if self.index.is_file():
            return None
        return f"dashboard files not found in {self.root}: {BUILD_HINT}"

    async def start(self, ctx: PluginContext) -> None:
        problem = self.missing()
        if problem:
            log.error("%s", problem)
        else:
            log.info("dashboard served at / from %s", self.root)

    async def stop(self) -> None:
        return None

    def status(self) -> dict[str, Any]:
        problem = self.missing()
        details: dict[str, Any] = {"ok": problem is None, "assets": str(self.root)}
        if problem:
            details["error"] = problem
        return details

    def route_handlers(self) -> Sequence[ControllerRouterHandler]:
        plugin = self

        @get("/", include_in_schema=False)
        async def dashboard_page(request: Request[Any, Any, Any]) -> Response[Any]:
            return plugin.respond(request, "/")

        @get("/{path:path}", include_in_schema=False)
        async def dashboard_files(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[Any]:
            return plugin.respond(request, path)

        return [dashboard_page, dashboard_files]

    def respond(self, request: Request[Any, Any, Any], path: str) -> Response[Any]:
        relative = path.lstrip("/")
        if relative.split("/", 1)[0] in RESERVED:
            raise NotFoundException()  # the API's own 404 envelope
        problem = self.missing()
        if problem:
            return _not_built(problem)
        target = (self.root / relative).resolve() if relative else self.index
        if target != self.index and target.is_relative_to(self.root) and target.is_file():
            cache = IMMUTABLE if relative.startswith("assets/") else "no-cache"
            return _file(request, target, {"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})
        if "." in relative.rsplit("/", 1)[-1] and target != self.index:
            raise NotFoundException()  # a missing file is a 404, not the page
        return _file(request, self.index, PAGE_HEADERS)


def _file(request: Request[Any, Any, Any], target: Path, headers: dict[str, str]) -> File:
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    compressed = target.with_name(target.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and compressed.is_file():
        headers = {**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        target = compressed
    return File(
        target,
        filename=target.name,
        media_type=media_type,
        headers=headers,
        content_disposition_type="inline",
    )


def _not_built(problem: str) -> Response[str]:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>CryptoViz</title>"
        "<body style='font-family:system-ui;background:#0b0e14;color:#e6ebf2;padding:2em'>"
        f"<h1>Dashboard not built</h1><p>{_escape(problem)}.</p>"
        "<p>The REST API and the WebSocket hub are running.</p></body></html>"
    )
    return Response(body, status_code=503, media_type="text/html", headers={"Cache-Control": "no-store"})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


plugin = PluginSpec(
    name="dashboard",
    kind="web",
    description="The dashboard web page at /",
    config_type=DashboardConfig,
    factory=DashboardPlugin,
)
