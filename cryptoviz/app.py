"""`create_app`: the one place where configuration, backends, plugins and routes meet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from cryptoviz import __version__
from cryptoviz.api.envelope import EXCEPTION_HANDLERS
from cryptoviz.api.health import health, ready
from cryptoviz.api.indicators import IndicatorsController
from cryptoviz.api.market import MarketController
from cryptoviz.api.metrics import metrics as metrics_route
from cryptoviz.api.news import NewsController
from cryptoviz.api.ws_stats import ws_stats
from cryptoviz.config import Config
from cryptoviz.hub.endpoint import front_door
from cryptoviz.hub.front import Front
from cryptoviz.hub.shutdown import SignalChain
from cryptoviz.observability.metrics import Metrics
from cryptoviz.plugin import LoadedPlugin, discover, plugin_routes, select
from cryptoviz.runtime import Runtime


def _runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def create_app(
    config: Config, plugins: list[LoadedPlugin] | None = None, *, front_upstream: str | None = None
) -> Litestar:
    """Build the ASGI app; the lifespan starts the runtime and stops it gracefully.

    With `front_upstream` (where granian listens, see serve.py), the lifespan also opens the
    front listener on `server.host:port`, which serves /ws/crypto and relays the rest there.
    """
    if plugins is None:
        plugins = select(config, discover(config.plugins.folder))
    runtime = Runtime(config, plugins)
    metrics = Metrics(runtime)
    metrics.instrument()  # wraps runtime.bus to count trades per symbol, before anything subscribes
    hub = runtime.hub
    front = Front(hub, front_upstream) if front_upstream else None

    async def close_clients() -> None:
        """WebSocket clients get 1001 before the server stops; the front takes no new connection."""
        if front is not None:
            front.stop_accepting()
        await hub.close_all(1001, "server shutting down", config.hub.close_timeout_seconds)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await runtime.start()
        signals = SignalChain(close_clients)
        signals.install()
        try:
            if front is not None:
                await front.start(config.server.host, config.server.port)
            yield
        finally:
            signals.uninstall()
            await close_clients()
            if front is not None:
                await front.stop()
            await runtime.stop()

    app = Litestar(
        route_handlers=[
            MarketController,
            IndicatorsController,
            NewsController,
            health,
            ready,
            ws_stats,
            metrics_route,
            *plugin_routes(runtime.instances.values()),  # `web` plugins: the dashboard's pages
        ],
        dependencies={"runtime": Provide(_runtime, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=State({"runtime": runtime, "metrics": metrics}),
        openapi_config=OpenAPIConfig(title="CryptoViz", version=__version__, path="/schema"),
        debug=False,
        logging_config=None,  # logging is set up once for the process (cryptoviz/logs.py)
    )
    app.asgi_handler = front_door(runtime.hub, app.asgi_handler)  # /ws/crypto: the WebSocket hub
    return app
