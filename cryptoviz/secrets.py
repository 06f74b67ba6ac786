"""Masking secrets before they reach logs, /ready or printed configuration."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")
_SECRET_KEY = re.compile(r"token|secret|password|api_key", re.IGNORECASE)


def redacted(url: str) -> str:
    """A URL or DSN with its password masked: `postgresql://app:***@db/x`."""
    return _URL_PASSWORD.sub(rf"\1{MASK}@", url)


def redacted_config(data: Any, key: str = "") -> Any:
    """Builtins of a configuration with secrets masked: a non-empty value under a key that
    names a token, secret or password, and the password of every URL."""
    if isinstance(data, dict):
        return {k: redacted_config(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return [redacted_config(v, key) for v in data]
    if isinstance(data, str) and data:
        return MASK if _SECRET_KEY.search(key) else redacted(data)
    return data
