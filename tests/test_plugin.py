"""Plugin discovery (entry points and the extra folder), selection and per-plugin config validation."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from cryptoviz.config import load_config
from cryptoviz.errors import ConfigError, PluginError
from cryptoviz.plugin import ENTRY_POINT_GROUP, PluginContext, discover, select
from cryptoviz.runtime import Runtime
from tests.conftest import make_config

BUILTINS = {
    "replay": "source", "simulator": "source", "trades": "handler", "candles": "handler", "news": "feed",
    "indicators": "handler", "dashboard": "web", "binance": "source",
}  # fmt: skip
AVAILABLE = "available: binance, candles, dashboard, indicators, news, replay, simulator, trades"

ECHO = """
import msgspec
from cryptoviz.plugin import PluginSpec


class EchoConfig(msgspec.Struct, forbid_unknown_fields=True):
    greeting: str = "hi"
    times: int = 1


class Echo:
    def __init__(self, config):
        self.config = config
        self.ctx = None
        self.stopped = False

    async def start(self, ctx):
        self.ctx = ctx

    async def stop(self):
        self.stopped = True

    def status(self):
        return {"ok": True, "greeting": self.config.greeting}


plugin = PluginSpec(name="{name}", kind="handler", description="hi", config_type=EchoConfig, factory=Echo)
"""


def write_plugin(folder: Path, stem: str, name: str | None = None, text: str | None = None) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{stem}.py"
    path.write_text(ECHO.replace("{name}", name or stem) if text is None else text)
    return path


def test_discovery_lists_the_builtins_from_the_entry_point_group() -> None:
    available = discover()
    assert {name: spec.kind for name, spec in available.items()} == BUILTINS
    assert set(available) == {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for name, spec in available.items():
        assert spec.origin == f"entry point cryptoviz_plugins.{name}:plugin"
        assert spec.description


async def test_folder_plugin_loads_and_runs_like_a_builtin(tmp_path) -> None:
    path = write_plugin(tmp_path / "extra", "echo")
    available = discover(str(tmp_path / "extra"))
    assert set(available) == {*BUILTINS, "echo"}
    assert available["echo"].origin == f"file {path}"
    config = make_config(
        tmp_path,
        PLUGINS__FOLDER=f'"{tmp_path / "extra"}"',
        PLUGINS__ENABLED='["trades", "echo"]',
        PLUGINS__ECHO__GREETING="hello",
    )
    loaded = select(config, discover(config.plugins.folder))
    assert [p.spec.name for p in loaded] == ["trades", "echo"]
    assert loaded[1].config.greeting == "hello"
    assert loaded[1].config.times == 1
    runtime = Runtime(config, loaded)
    await runtime.start()
    try:
        echo: Any = runtime.instances["echo"]
        assert isinstance(echo.ctx, PluginContext)
        assert echo.ctx.storage is runtime.storage
        assert echo.ctx.bus is runtime.bus
        healthy, details = await runtime.readiness()
        assert healthy
        assert details["plugins"]["echo"] == {"ok": True, "greeting": "hello"}
    finally:
        await runtime.stop()
    assert echo.stopped


def test_folder_plugin_named_like_a_builtin_is_a_duplicate(tmp_path) -> None:
    path = write_plugin(tmp_path / "extra", "mytrades", name="trades")
    with pytest.raises(PluginError) as info:
        discover(str(tmp_path / "extra"))
    message = str(info.value)
    assert "duplicate plugin name 'trades'" in message
    assert "entry point cryptoviz_plugins.trades:plugin" in message
    assert f"file {path}" in message


def test_two_folder_plugins_with_one_name_are_duplicates(tmp_path) -> None:
    first = write_plugin(tmp_path / "extra", "a", name="echo")
    second = write_plugin(tmp_path / "extra", "b", name="echo")
    with pytest.raises(PluginError, match="duplicate plugin name 'echo'") as info:
        discover(str(tmp_path / "extra"))
    assert str(first) in str(info.value)
    assert str(second) in str(info.value)


BROKEN_FILES = [
    pytest.param("x = 1\n", "defines no `plugin = PluginSpec(...)`", id="no-plugin"),
    pytest.param("raise RuntimeError('boom')\n", "failed to load: boom", id="import-error"),
    pytest.param("plugin = {'name': 'x'}\n", "is not a cryptoviz.plugin.PluginSpec", id="not-a-spec"),
]


@pytest.mark.parametrize(("text", "fragment"), BROKEN_FILES)
def test_broken_folder_plugin_is_refused_naming_the_file(tmp_path, text, fragment) -> None:
    path = write_plugin(tmp_path / "extra", "broken", text=text)
    with pytest.raises(PluginError) as info:
        discover(str(tmp_path / "extra"))
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_missing_plugin_folder_is_refused(tmp_path) -> None:
    with pytest.raises((PluginError, ConfigError), match="nowhere"):
        discover(str(tmp_path / "nowhere"))


SELECT_ERRORS = [
    pytest.param(
        {"PLUGINS__ENABLED": '["trades", "nope"]'}, ["unknown plugin 'nope'", AVAILABLE], id="unknown"
    ),
    pytest.param(
        {"PLUGINS__ENABLED": '["trades", "trades"]'}, ["'trades' is listed twice"], id="listed-twice"
    ),
    pytest.param({"PLUGINS__NOPE__X": "1"}, ["[plugins.nope]", AVAILABLE], id="table-for-no-plugin"),
]


@pytest.mark.parametrize(("env", "fragments"), SELECT_ERRORS)
def test_bad_plugin_selection_is_refused(tmp_path, env, fragments) -> None:
    config = make_config(tmp_path, **env)
    with pytest.raises(PluginError) as info:
        select(config, discover())
    for fragment in fragments:
        assert fragment in str(info.value)


def test_table_for_no_plugin_in_a_config_file_is_refused(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[plugins.nope]\nx = 1\n")
    with pytest.raises(PluginError, match=r"\[plugins\.nope\] names no available plugin"):
        select(load_config(path, {}), discover())


PLUGIN_CONFIG_ERRORS = [
    pytest.param(
        {"PLUGINS__REPLAY__SPEED": '"fast"'}, ["`plugins.replay.speed`", "'fast'", "Expected `float`"]
    ),
    pytest.param({"PLUGINS__REPLAY__SPEED": "-1.0"}, ["`plugins.replay.speed`", "-1.0", ">= 0"]),
    pytest.param({"PLUGINS__REPLAY__LOOP": '"yes"'}, ["`plugins.replay.loop`", "'yes'", "Expected `bool`"]),
    pytest.param({"PLUGINS__REPLAY__NOPE": "1"}, ["plugins.replay.nope", "unknown key"]),
    pytest.param({"PLUGINS__SIMULATOR__SYMBOLS": '["btc$"]'}, ["plugins.simulator.symbols", "btc$"]),
    pytest.param({"PLUGINS__CANDLES__INTERVALS": '["2m"]'}, ["plugins.candles.intervals", "'2m'"]),
    pytest.param({"PLUGINS__CANDLES__GRACE_MS": "-5"}, ["`plugins.candles.grace_ms`", "-5", ">= 0"]),
]


@pytest.mark.parametrize(("env", "fragments"), PLUGIN_CONFIG_ERRORS)
def test_plugin_config_of_the_wrong_type_names_the_plugin_key(tmp_path, env, fragments) -> None:
    config = make_config(tmp_path, **env)  # plugin tables stay raw until the plugin host decodes them
    with pytest.raises(ConfigError) as info:
        select(config, discover())
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_folder_plugin_config_is_validated_by_its_own_struct(tmp_path) -> None:
    write_plugin(tmp_path / "extra", "echo")
    config = make_config(tmp_path, PLUGINS__FOLDER=f'"{tmp_path / "extra"}"', PLUGINS__ECHO__TIMES='"x"')
    with pytest.raises(ConfigError, match=r"`plugins\.echo\.times` = 'x'.*Expected `int`"):
        select(config, discover(config.plugins.folder))
