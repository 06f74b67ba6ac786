"""Query and path parameter validation with the guide's rules and clear 400s."""

from __future__ import annotations

import re

from cryptoviz.api.envelope import ApiError
from cryptoviz.models import INTERVALS
from cryptoviz.timeutil import parse_timestamp

_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")


def symbol_param(raw: str) -> str:
    """Symbols are upper-case letters and digits; lower case is accepted and upper-cased."""
    symbol = raw.strip().upper()
    if not raw.isascii() or not _SYMBOL.match(symbol):  # upper() folds some non-ASCII into ASCII
        raise ApiError(
            400, "invalid_symbol", f"malformed symbol {raw[:40]!r}: expected 2-20 letters or digits"
        )
    return symbol


def interval_param(raw: str | None, default: str = "1m") -> str:
    if raw is None:
        return default
    if raw not in INTERVALS:
        raise ApiError(
            400, "invalid_interval", f"invalid interval {raw[:20]!r}: expected one of {', '.join(INTERVALS)}"
        )
    return raw


def limit_param(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_limit", f"limit must be an integer, got {raw[:20]!r}") from None
    if not 1 <= value <= maximum:
        raise ApiError(400, "invalid_limit", f"limit must be between 1 and {maximum}, got {value}")
    return value


def time_param(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    try:
        return parse_timestamp(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_timestamp", f"{name}: {exc}") from None


def time_range(start_raw: str | None, end_raw: str | None) -> tuple[int | None, int | None]:
    start, end = time_param(start_raw, "start"), time_param(end_raw, "end")
    if start is not None and end is not None and start > end:
        raise ApiError(400, "invalid_range", "start is after end")
    return start, end
