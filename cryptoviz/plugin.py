"""The plugin seam: every collector and handler is a plugin.

A plugin module exposes `plugin = PluginSpec(...)`. Built-ins register under the
`cryptoviz.plugins` entry-point group like third-party packages do, and modules in the
optional `[plugins] folder` are loaded the same way, so all three paths meet in
`discover()`.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from cryptoviz.config import Config, convert_section
from cryptoviz.errors import PluginError

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

    from cryptoviz.bus.base import Bus
    from cryptoviz.dedup.base import Dedup
    from cryptoviz.storage.base import Storage
    from cryptoviz.tasks import Supervisor

ENTRY_POINT_GROUP = "cryptoviz.plugins"
PluginKind = Literal["source", "feed", "handler", "web"]
COLLECTOR_KINDS: tuple[PluginKind, ...] = ("source", "feed")
"""`source`: market data collectors (swapped for the simulator by `--demo`);
`feed`: other collectors; `handler`: consumers of the bus; `web`: adds pages."""


@dataclass(frozen=True)
class PluginContext:
    """What a running plugin may use; handed to `start`."""

    config: Config
    bus: Bus
    storage: Storage
    dedup: Dedup
    tasks: Supervisor
    clock: Callable[[], int]
    """Wall clock in epoch ms (replaceable in tests)."""
    live: bool = True
    """False for a batch run (`cryptoviz replay`): no behaviour driven by the wall clock,
    so the result depends on the data alone."""
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the runtime stops: handlers write what they hold now instead of waiting."""


class PluginInstance(Protocol):
    async def start(self, ctx: PluginContext) -> None:
        """Subscribe and spawn background work through `ctx.tasks`; return promptly."""

    async def stop(self) -> None:
        """Stop taking input and flush anything held."""

    def status(self) -> dict[str, Any]:
        """Details for /ready; `"ok": False` marks the plugin as failing."""


@runtime_checkable
class WebPluginInstance(PluginInstance, Protocol):
    """A `web` plugin also contributes HTTP routes, collected by `create_app`."""

    def route_handlers(self) -> Sequence[ControllerRouterHandler]:
        """Route handlers to mount next to the core API; called once, before the app starts."""


def plugin_routes(instances: Iterable[PluginInstance]) -> list[ControllerRouterHandler]:
    """The route handlers of every plugin instance that has `route_handlers()`."""
    routes: list[ControllerRouterHandler] = []
    for instance in instances:
        if isinstance(instance, WebPluginInstance):
            routes.extend(instance.route_handlers())
    return routes


@dataclass(frozen=True)
class PluginSpec:
    name: str
    kind: PluginKind
    description: str
    config_type: type[Any]
    factory: Callable[[Any], PluginInstance]
    origin: str = ""


@dataclass(frozen=True)
class LoadedPlugin:
    spec: PluginSpec
    config: Any

    def create(self) -> PluginInstance:
        return self.spec.factory(self.config)


def discover(folder: str = "") -> dict[str, PluginSpec]:
    """Every available plugin by name: entry points first, then the extra folder."""
    found: dict[str, PluginSpec] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            spec = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin entry point {ep.name} = {ep.value} failed to load: {exc}") from exc
        _add(found, _checked(spec, f"entry point {ep.value}"))
    if folder:
        if not Path(folder).is_dir():
            raise PluginError(f"`plugins.folder` = {folder!r}: no such folder")
        for path in sorted(Path(folder).glob("*.py")):
            _add(found, _checked(_load_module_plugin(path), f"file {path}"))
    return found


def _load_module_plugin(path: Path) -> Any:
    module_name = f"cryptoviz_extra_plugins.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot load plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise PluginError(f"plugin file {path} failed to load: {exc}") from exc
    if not hasattr(module, "plugin"):
        raise PluginError(f"plugin file {path} defines no `plugin = PluginSpec(...)`")
    return module.plugin


def _checked(spec: Any, origin: str) -> PluginSpec:
    if not isinstance(spec, PluginSpec):
        raise PluginError(f"{origin} is not a cryptoviz.plugin.PluginSpec")
    return PluginSpec(spec.name, spec.kind, spec.description, spec.config_type, spec.factory, origin)


def _add(found: dict[str, PluginSpec], spec: PluginSpec) -> None:
    if spec.name in found:
        raise PluginError(
            f"duplicate plugin name {spec.name!r}: provided by {found[spec.name].origin} and by {spec.origin}"
        )
    found[spec.name] = spec


def select(config: Config, available: Mapping[str, PluginSpec]) -> list[LoadedPlugin]:
    """The enabled plugins with their validated configs, in the order given."""
    enabled = config.plugins.enabled
    seen: set[str] = set()
    for name in enabled:
        if name in seen:
            raise PluginError(f"plugin {name!r} is listed twice in [plugins] enabled")
        seen.add(name)
        if name not in available:
            raise PluginError(
                f"unknown plugin {name!r} in [plugins] enabled; available: {', '.join(sorted(available))}"
            )
    for name in config.plugins.settings:
        if name not in available:
            raise PluginError(
                f"configuration table [plugins.{name}] names no available plugin;"
                f" available: {', '.join(sorted(available))}"
            )
    configs = {
        name: convert_section(config.plugins.settings.get(name, {}), spec.config_type, f"plugins.{name}", {})
        for name, spec in available.items()
    }
    return [LoadedPlugin(available[name], configs[name]) for name in enabled]
