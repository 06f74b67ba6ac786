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
from cryptoviz.api.market import MarketController
from cryptoviz.config import Config
from cryptoviz.plugin import LoadedPlugin, discover, select
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
        try:
            yield
        finally:
            await runtime.stop()

    return Litestar(
        route_handlers=[MarketController, health, ready],
        dependencies={"runtime": Provide(_runtime, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=State({"runtime": runtime}),
        openapi_config=OpenAPIConfig(title="CryptoViz", version=__version__, path="/schema"),
        debug=False,
    )
