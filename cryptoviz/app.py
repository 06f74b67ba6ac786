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
from cryptoviz.api.news import NewsController
from cryptoviz.api.ws_stats import ws_stats
from cryptoviz.config import Config
from cryptoviz.hub.endpoint import front_door
from cryptoviz.hub.shutdown import close_clients_first
from cryptoviz.plugin import LoadedPlugin, discover, plugin_routes, select
from cryptoviz.runtime import Runtime


def _runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def create_app(config: Config, plugins: list[LoadedPlugin] | None = None) -> Litestar:
    """Build the ASGI app; the lifespan starts the runtime and stops it gracefully."""
    if plugins is None:
        plugins = select(config, discover(config.plugins.folder))
    runtime = Runtime(config, plugins)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await runtime.start()
        signals = close_clients_first(runtime.hub)  # WebSocket clients get 1001 before the server stops
        signals.install()
        try:
            yield
        finally:
            signals.uninstall()
            await signals.before()
            await runtime.stop()

    app = Litestar(
        route_handlers=[
            MarketController,
            IndicatorsController,
            NewsController,
            health,
            ready,
            ws_stats,
            *plugin_routes(runtime.instances.values()),  # `web` plugins: the dashboard's pages
        ],
        dependencies={"runtime": Provide(_runtime, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=State({"runtime": runtime}),
        openapi_config=OpenAPIConfig(title="CryptoViz", version=__version__, path="/schema"),
        debug=False,
    )
    app.asgi_handler = front_door(runtime.hub, app.asgi_handler)  # /ws/crypto: the WebSocket hub
    return app
