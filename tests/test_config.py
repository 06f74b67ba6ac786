"""Configuration layers (embedded defaults, --config file, CRYPTOVIZ_* variables) and their validation."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cryptoviz.config import (
    Config,
    convert_section,
    decode_config,
    embedded_defaults,
    load_config,
    to_toml_like,
)
from cryptoviz.errors import ConfigError
from cryptoviz.plugin import discover, select

REPO = Path(__file__).resolve().parents[1]
STRUCT_SECTIONS = ("server", "storage", "dedup", "bus", "log")


def test_embedded_defaults_decode_to_a_config() -> None:
    raw = embedded_defaults()
    assert {"server", "storage", "dedup", "bus", "plugins", "log"} <= set(raw)
    config = decode_config(raw)
    assert isinstance(config, Config)
    assert config == load_config(None, {})
    assert config.server.port == 8080
    assert config.plugins.enabled == ["binance", "trades", "candles", "indicators", "news", "dashboard"]


def test_repo_config_toml_is_the_embedded_defaults() -> None:
    assert tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8")) == embedded_defaults()


def test_repo_config_toml_restates_the_struct_defaults() -> None:
    """Every section equals `Config()`, except the plugin tables the file adds on purpose."""
    from_file = decode_config(tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8")))
    defaults = Config()
    for section in STRUCT_SECTIONS:
        assert getattr(from_file, section) == getattr(defaults, section), section
    assert from_file.plugins.enabled == defaults.plugins.enabled
    assert from_file.plugins.folder == defaults.plugins.folder
    assert defaults.plugins.settings == {}
    assert set(from_file.plugins.settings) == {
        "simulator",
        "replay",
        "trades",
        "candles",
        "indicators",
        "news",
        "binance",
        "dashboard",
    }


def test_repo_config_plugin_tables_restate_each_plugin_defaults() -> None:
    from_file = decode_config(tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8")))
    available = discover()
    for name, table in from_file.plugins.settings.items():
        kind = available[name].config_type
        assert convert_section(table, kind, f"plugins.{name}", {}) == kind(), name


def test_effective_config_round_trips_through_plain_data() -> None:
    config = load_config(None, {"CRYPTOVIZ_SERVER__PORT": "9001", "CRYPTOVIZ_PLUGINS__REPLAY__SPEED": "2.0"})
    assert decode_config(to_toml_like(config)) == config


def test_config_file_overrides_only_its_keys(tmp_path) -> None:
    path = tmp_path / "partial.toml"
    path.write_text('[server]\nport = 9100\n\n[plugins.replay]\nspeed = 2.5\n\n[dedup]\nbackend = "memory"\n')
    config = load_config(path, {})
    defaults = load_config(None, {})
    assert config.server.port == 9100
    assert config.server.host == defaults.server.host
    for section in ("storage", "dedup", "bus", "log"):
        assert getattr(config, section) == getattr(defaults, section)
    assert config.plugins.enabled == defaults.plugins.enabled
    assert config.plugins.settings["replay"] == {**defaults.plugins.settings["replay"], "speed": 2.5}
    assert config.plugins.settings["simulator"] == defaults.plugins.settings["simulator"]


def test_environment_beats_the_config_file(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 9100\nhost = '0.0.0.0'\n")
    config = load_config(path, {"CRYPTOVIZ_SERVER__PORT": "9200"})
    assert (config.server.host, config.server.port) == ("0.0.0.0", 9200)


def _replay_speed(config: Config) -> Any:
    """The speed the replay plugin receives, decoded by its own Struct."""
    only_replay = msgspec.structs.replace(
        config, plugins=msgspec.structs.replace(config.plugins, enabled=["replay"])
    )
    (loaded,) = select(only_replay, discover())
    return loaded.config.speed


ENV_CASES = [
    pytest.param({"SERVER__PORT": "9000"}, lambda c: c.server.port, 9000, id="int"),
    pytest.param({"SERVER__HOST": "0.0.0.0"}, lambda c: c.server.host, "0.0.0.0", id="bare-string"),
    pytest.param({"LOG__LEVEL": "debug"}, lambda c: c.log.level, "debug", id="literal"),
    pytest.param({"DEDUP__TTL_SECONDS": "60"}, lambda c: c.dedup.ttl_seconds, 60.0, id="int-as-float"),
    pytest.param(
        {"PLUGINS__ENABLED": '["trades", "candles"]'},
        lambda c: c.plugins.enabled,
        ["trades", "candles"],
        id="list",
    ),
    pytest.param(
        {"STORAGE__RETENTION_DAYS": "{ trades = 1.5 }"},
        lambda c: c.storage.retention_days,
        {"trades": 1.5, "1s": 2.0, "5s": 14.0},
        id="inline-table-merges",
    ),
    pytest.param({"PLUGINS__REPLAY__SPEED": "1.0"}, _replay_speed, 1.0, id="plugin-key"),
    pytest.param(
        {"PLUGINS__SIMULATOR__SYMBOLS": '["DOTUSDT"]'},
        lambda c: c.plugins.settings["simulator"]["symbols"],
        ["DOTUSDT"],
        id="plugin-list",
    ),
    pytest.param(
        {"TESTDATA": "/somewhere", "SERVER": "1"},
        lambda c: c == load_config(None, {}),
        True,
        id="ignored-without-double-underscore",
    ),
]


@pytest.mark.parametrize(("env", "read", "expected"), ENV_CASES)
def test_environment_overrides(env, read, expected) -> None:
    config = load_config(None, {f"CRYPTOVIZ_{k}": v for k, v in env.items()})
    assert read(config) == expected


FILE = "{file}"

BAD_CONFIGS = [
    pytest.param(
        {"SERVER__PROT": "9000"}, None, ["server.prot", "9000", "unknown key"], id="unknown-key-env"
    ),
    pytest.param(
        {}, "[serverx]\na = 1\n", ["serverx", "'a': 1", "unknown key", FILE], id="unknown-section-file"
    ),
    pytest.param({"SERVER__PORT": '"abc"'}, None, ["server.port", "'abc'", "Expected `int`"], id="bad-type"),
    pytest.param(
        {"SERVER__PORT": "80.5"}, None, ["server.port", "80.5", "Expected `int`"], id="float-for-int"
    ),
    pytest.param(
        {"SERVER__PORT": "0"}, None, ["server.port", "= 0", ">= 1", "CRYPTOVIZ_SERVER__PORT"], id="port-0"
    ),
    pytest.param({"SERVER__PORT": "70000"}, None, ["server.port", "70000", "<= 65535"], id="port-70000"),
    pytest.param({}, "[server]\nport = 0\n", ["server.port", "= 0", ">= 1", FILE], id="port-0-file"),
    pytest.param(
        {"STORAGE__BACKEND": "mysql"},
        None,
        ["storage.backend", "'mysql'", "'postgres', 'sqlite'"],
        id="literal",
    ),
    pytest.param({"LOG__LEVEL": "trace"}, None, ["log.level", "'trace'", "'debug'"], id="literal-log"),
    pytest.param(
        {"PLUGINS__ENABLED": "trades"}, None, ["plugins.enabled", "'trades'", "array"], id="str-for-list"
    ),
    pytest.param({"DEDUP__TTL_SECONDS": "0"}, None, ["dedup.ttl_seconds", "0", "> 0"], id="ttl-0"),
    pytest.param({}, "server = 5\n", ["`server`", "5", "object", FILE], id="scalar-for-section"),
    pytest.param(
        {"SERVER____PORT": "1"}, None, ["CRYPTOVIZ_SERVER____PORT", "empty key"], id="env-empty-segment"
    ),
    pytest.param(
        {"STORAGE__RETENTION_DAYS": '{ "2m" = 1.0 }'},
        None,
        ["`storage.retention_days", "'2m'", "CRYPTOVIZ_STORAGE__RETENTION_DAYS"],
        id="dict-bad-key",
    ),
    pytest.param(
        {"STORAGE__RETENTION_DAYS": '{ "1m" = -1.0 }'},
        None,
        ["storage.retention_days", "-1.0", ">= 0"],
        id="dict-bad-value",
    ),
    pytest.param({}, "[server\nport = 1\n", [FILE, "not valid TOML", "line 1"], id="bad-toml"),
    pytest.param({}, None, [FILE, "cannot read", "No such file"], id="missing-file"),
]


@pytest.mark.parametrize(("env", "text", "fragments"), BAD_CONFIGS)
def test_bad_config_is_refused_naming_key_value_and_expectation(tmp_path, env, text, fragments) -> None:
    path = tmp_path / "bad.toml"
    if text is not None:
        path.write_text(text)
    uses_file = text is not None or FILE in fragments
    with pytest.raises(ConfigError) as info:
        load_config(path if uses_file else None, {f"CRYPTOVIZ_{k}": v for k, v in env.items()})
    message = str(info.value)
    for fragment in fragments:
        assert fragment.replace(FILE, str(path)) in message, message
    assert "(top level)" not in message
