"""A small TOML writer for `check-config`: tables of scalars, arrays and inline tables."""

from __future__ import annotations

import json
import re
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
        )
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dumps(data: dict[str, Any], _prefix: str = "") -> str:
    """Top-level and nested tables become [sections]; dicts inside a table of scalars stay inline."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        nested = isinstance(value, dict) and (not _prefix or any(isinstance(v, dict) for v in value.values()))
        if isinstance(value, dict) and (nested or _prefix == "plugins."):
            tables.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    out = "\n".join(lines)
    for key, table in tables:
        name = f"{_prefix}{_key(key)}"
        body = dumps(table, f"{name}.").rstrip("\n")
        out += f"\n\n[{name}]\n{body}" if out else f"[{name}]\n{body}"
    return out.strip("\n") + "\n"
