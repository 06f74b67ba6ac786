"""Command line: `cryptoviz serve | replay | check-config | plugins`.

The only module that turns errors into exit codes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from cryptoviz import __version__
from cryptoviz.config import Config, load_config, to_toml_like
from cryptoviz.errors import ConfigError, PluginError, StorageError
from cryptoviz.plugin import PluginSpec, discover, select
from cryptoviz.secrets import redacted_config
from cryptoviz.tomlout import dumps

log = logging.getLogger("cryptoviz")
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cryptoviz", description="Real-time crypto market data appliance.")
    parser.add_argument("--version", action="version", version=f"cryptoviz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    config_help = "TOML file merged over the embedded defaults"
    serve = sub.add_parser("serve", help="run the appliance: collectors, pipeline, REST API")
    serve.add_argument("--config", help=config_help)
    serve.add_argument("--demo", action="store_true", help="swap the live collectors for the simulator")
    replay = sub.add_parser("replay", help="run recordings through the pipeline, then exit")
    replay.add_argument("--config", help=config_help)
    replay.add_argument("--speed", type=float, default=None, help="0 = as fast as possible, 1.0 = real time")
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    replay.add_argument("files", nargs="+", metavar="FILE")
    check = sub.add_parser("check-config", help="validate, print the configuration (secrets masked)")
    check.add_argument("--config", help=config_help)
    plugins = sub.add_parser("plugins", help="list available and enabled plugins")
    plugins.add_argument("--config", help=config_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        _setup_logging(config)
        if args.command == "serve":
            return _serve(config, args.config, args.demo)
        if args.command == "replay":
            from cryptoviz.replay.command import run_replay

            return run_replay(config, args.files, speed=args.speed, quiet=args.quiet)
        if args.command == "check-config":
            available = discover(config.plugins.folder)
            select(config, available)
            sys.stdout.write(dumps(redacted_config(_effective(config, available))))
            return 0
        return _list_plugins(config)
    except (ConfigError, PluginError, StorageError) as exc:
        print(f"cryptoviz: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _effective(config: Config, available: dict[str, PluginSpec]) -> dict[str, object]:
    """The configuration in force, plugin tables filled with their defaults."""
    import msgspec

    data = to_toml_like(config)
    for name, spec in available.items():
        raw = config.plugins.settings.get(name, {})
        data["plugins"][name] = msgspec.to_builtins(msgspec.convert(raw, spec.config_type))
    return data


def _list_plugins(config: Config) -> int:
    available = discover(config.plugins.folder)
    select(config, available)
    enabled = set(config.plugins.enabled)
    width = max(len(n) for n in available) if available else 4
    for name, spec in available.items():
        mark = "enabled " if name in enabled else "        "
        print(f"{name:<{width}}  {mark} {spec.kind:<8} {spec.description}  [{spec.origin}]")
    return 0


def demo_plugins(config: Config, available: dict[str, PluginSpec]) -> list[str]:
    """`--demo`: the enabled list with market sources replaced by the simulator."""
    kept = [n for n in config.plugins.enabled if n in available and available[n].kind != "source"]
    return ["simulator", *kept]


def _serve(config: Config, config_path: str | None, demo: bool) -> int:
    from cryptoviz.serve import serve

    available = discover(config.plugins.folder)
    if demo:
        os.environ["CRYPTOVIZ_PLUGINS__ENABLED"] = (
            "[" + ", ".join(f'"{n}"' for n in demo_plugins(config, available)) + "]"
        )
        config = load_config(config_path)
    select(config, available)  # refuse a bad plugin setup before any worker starts
    return serve(config, config_path)


def _setup_logging(config: Config) -> None:
    from cryptoviz.logs import setup_logging

    setup_logging(config.log)
