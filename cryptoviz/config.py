"""Configuration: embedded defaults, a TOML file, then `CRYPTOVIZ_<SECTION>__<KEY>` variables.

Each layer is merged over the previous one, then decoded into msgspec Structs that refuse
unknown keys and bad values with a message naming the key, the value and what was
expected. Plugin tables (`[plugins.<name>]`) are kept raw here and decoded by the plugin
host against each plugin's own Struct.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import msgspec.inspect

from cryptoviz.errors import ConfigError

ENV_PREFIX = "CRYPTOVIZ_"
T = TypeVar("T")
RetentionKey = Literal["trades", "1s", "5s", "1m", "15m", "1h", "4h", "1d"]


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8080
    ws_frontend: bool = True
    """The hub's own listener takes host:port and serves /ws/crypto; granian, on a private unix
    socket behind it, gets every other request byte for byte. False: granian serves everything."""


class StorageConfig(_Section):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: str = "var/cryptoviz.db"
    postgres_dsn: str = "postgresql://cryptoviz@127.0.0.1:5432/cryptoviz"
    postgres_pool_min: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 1
    postgres_pool_max: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    """Connections per instance at most: handlers write in parallel, the API reads beside them."""
    postgres_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    """A statement, connect or pool wait slower than this fails and is retried."""
    postgres_timescaledb: bool = True
    """Lay the tables out as TimescaleDB hypertables when the server has the extension."""
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 2000
    """Rows per write transaction at most."""
    flush_ms: Annotated[int, msgspec.Meta(ge=1, le=60_000)] = 200
    """Oldest pending row waits at most this long before a write."""
    retention_days: dict[RetentionKey, Annotated[float, msgspec.Meta(ge=0)]] = msgspec.field(
        default_factory=lambda: {"trades": 7.0, "1s": 2.0, "5s": 14.0}
    )
    """Days kept per table or candle interval, counted back from the newest row; 0 or absent: forever."""
    prune_every_seconds: Annotated[int, msgspec.Meta(ge=1)] = 300


class DedupConfig(_Section):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    max_entries: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)] = 1_000_000
    ttl_seconds: Annotated[float, msgspec.Meta(gt=0)] = 86400.0
    redis_key_prefix: str = "cryptoviz:dedup"
    """Redis keys are `<prefix>:<exchange>:<symbol>:<trade id>` (news: `<prefix>:news:<id>`)."""
    redis_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 2.0
    """A Redis call slower than this counts as Redis being away: the local cache takes over."""


class BusConfig(_Section):
    backend: Literal["memory", "kafka"] = "memory"
    kafka_bootstrap: str = "127.0.0.1:9092"
    group_id: str = "cryptoviz"
    queue_batches: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 64
    """Batches a subscriber may have pending before producers wait (memory bus)."""
    max_batch: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
    """Messages per published batch at most (memory), per batch read (Kafka)."""
    kafka_topic_prefix: str = ""
    """Prepended to every topic name, so several deployments can share one cluster."""
    kafka_partitions: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 6
    """Partitions of each topic the bus creates: the most consumers of one group that get work."""
    kafka_replication: Annotated[int, msgspec.Meta(ge=1, le=32)] = 1
    kafka_retention_hours: Annotated[float, msgspec.Meta(gt=0)] = 168.0
    kafka_linger_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 20
    """How long the producer waits to fill a batch before sending it."""
    kafka_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"


class HubConfig(_Section):
    """The WebSocket hub's limits (see the README's hub section)."""

    max_connections: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 10_000
    max_subscriptions: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 100
    """Subscriptions one connection may hold."""
    send_buffer: Annotated[int, msgspec.Meta(ge=8, le=1_000_000)] = 1000
    """Messages waiting for one client at most; beyond, candles are coalesced and trades dropped."""
    history: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 1000
    """Messages kept per stream for `since_seq` resumes."""
    max_message_bytes: Annotated[int, msgspec.Meta(ge=64, le=1_000_000)] = 512
    read_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    ping_interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    write_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    close_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    """How long a client the hub closes (shutdown, slow, silent) is given to take its close frame."""


class PluginsConfig(_Section):
    enabled: list[str] = msgspec.field(
        default_factory=lambda: ["binance", "trades", "candles", "indicators", "news", "dashboard"]
    )
    folder: str = ""
    """An extra folder of plugin modules (`*.py`), loaded like the built-ins."""
    settings: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """The raw `[plugins.<name>]` tables, decoded by each plugin's own Struct."""


class LogConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "text"] = "auto"
    """`auto`: human-readable text when stderr is a terminal, one JSON object per line otherwise."""


class Config(_Section):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    dedup: DedupConfig = msgspec.field(default_factory=DedupConfig)
    bus: BusConfig = msgspec.field(default_factory=BusConfig)
    hub: HubConfig = msgspec.field(default_factory=HubConfig)
    plugins: PluginsConfig = msgspec.field(default_factory=PluginsConfig)
    log: LogConfig = msgspec.field(default_factory=LogConfig)


def embedded_defaults() -> dict[str, Any]:
    """The `config.toml` shipped inside the package."""
    text = resources.files("cryptoviz").joinpath("config.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Merge defaults, `path` and the environment, then validate."""
    raw = embedded_defaults()
    sources: dict[str, str] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        try:
            layer = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        _merge(raw, layer, sources, f"file {path}")
    env = os.environ if environ is None else environ
    _merge(raw, _env_layer(env, sources), sources, None)
    return decode_config(raw, sources)


def decode_config(raw: dict[str, Any], sources: Mapping[str, str] | None = None) -> Config:
    """Validate a merged raw mapping into a `Config`."""
    raw = dict(raw)
    plugins = dict(raw.get("plugins") or {})
    tables = {k: v for k, v in plugins.items() if isinstance(v, dict)}
    for key in tables:
        del plugins[key]
    plugins["settings"] = tables
    raw["plugins"] = plugins
    return convert_section(raw, Config, "", sources or {})


def convert_section(raw: Any, kind: type[T], prefix: str, sources: Mapping[str, str]) -> T:
    """`msgspec.convert` with an error that names key, value and expectation."""
    try:
        return msgspec.convert(raw, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(exc, raw, prefix, sources, kind)) from None


def to_toml_like(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data, plugin tables back in `[plugins]`."""
    data: dict[str, Any] = msgspec.to_builtins(config)
    plugins = data["plugins"]
    plugins.update(plugins.pop("settings"))
    return data


_PATH_RE = re.compile(r" - at `\$((?:\.[^`.\[]+|\[[^\]]*\])*)`$")
_KEY_PATH_RE = re.compile(r" - at `key` in `\$((?:\.[^`.\[]+|\[[^\]]*\])*)`$")


def _explain(
    exc: msgspec.ValidationError, raw: Any, prefix: str, sources: Mapping[str, str], kind: Any
) -> str:
    message = str(exc)
    in_key = False
    parts: list[str] = []
    match = _PATH_RE.search(message) or _KEY_PATH_RE.search(message)
    if match:
        in_key = match.re is _KEY_PATH_RE
        message = message[: match.start()]
        found = re.findall(r"\.[^.\[]+|\[[^\]]*\]", match.group(1))
        parts = [p.strip(".[]") for p in found if p != "[...]"]  # `[...]`: some key of a dict
    unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
    if unknown:
        parts.append(unknown.group(1))
    key = ".".join(p for p in [prefix.rstrip("."), *parts] if p) or "(top level)"
    value = _lookup(raw, parts)
    origin = sources.get(key)
    where = f" (from {origin})" if origin else ""
    if unknown:
        return f"invalid configuration: unknown key `{key}`{where} = {value!r}"
    if message.startswith("Object missing required field"):
        return f"invalid configuration: `{key}`: {message}"
    expected = _expected_literal(kind, parts, in_key) if message.startswith("Invalid enum value") else None
    if expected:
        message = f"{message}: expected one of {', '.join(map(repr, expected))}"
    what = "a key of " if in_key else ""
    return f"invalid configuration: {what}`{key}` = {value!r}{where}: {message}"


def _expected_literal(kind: Any, parts: list[str], in_key: bool) -> tuple[Any, ...] | None:
    """The allowed values of the Literal at `parts` inside `kind`, for a clearer message."""
    node: Any = msgspec.inspect.type_info(kind)
    for part in parts:
        if isinstance(node, msgspec.inspect.StructType):
            node = next((f.type for f in node.fields if f.name == part), None)
        elif isinstance(node, msgspec.inspect.ListType):
            node = node.item_type
        elif isinstance(node, msgspec.inspect.DictType):
            node = node.value_type
        else:
            return None
    if in_key and isinstance(node, msgspec.inspect.DictType):
        node = node.key_type
    elif isinstance(node, msgspec.inspect.ListType | msgspec.inspect.DictType):
        node = node.item_type if isinstance(node, msgspec.inspect.ListType) else node.value_type
    if isinstance(node, msgspec.inspect.LiteralType):
        return tuple(node.values)
    return None


def _lookup(raw: Any, parts: list[str]) -> Any:
    node = raw
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _merge(
    base: dict[str, Any],
    layer: Mapping[str, Any],
    sources: dict[str, str],
    origin: str | None,
    prefix: str = "",
) -> None:
    for key, value in layer.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, sources, origin, f"{path}.")
        else:
            base[key] = value
            if origin is not None:
                sources[path] = origin


def _env_layer(environ: Mapping[str, str], sources: dict[str, str]) -> dict[str, Any]:
    """`CRYPTOVIZ_SERVER__PORT=9000` -> {"server": {"port": 9000}}; values read as TOML when they parse."""
    layer: dict[str, Any] = {}
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if not all(path):
            raise ConfigError(f"invalid configuration variable {name}: empty key segment")
        node = layer
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"invalid configuration variable {name}: {part} is not a table")
        node[path[-1]] = _env_value(text)
        sources[".".join(path)] = name
    return layer


def _env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
