"""Time helpers: epoch milliseconds inside, RFC 3339 UTC at the edges."""

from __future__ import annotations

import time
from datetime import UTC, datetime

_EPOCH_MS_MAX = 253402300799999  # 9999-12-31T23:59:59.999Z


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def to_rfc3339(ms: int) -> str:
    """Format epoch milliseconds as RFC 3339 UTC; milliseconds only when non-zero."""
    seconds, millis = divmod(ms, 1000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{base}.{millis:03d}Z" if millis else f"{base}Z"


def parse_timestamp(text: str) -> int:
    """Parse epoch milliseconds or an RFC 3339 timestamp into epoch milliseconds.

    Raises ValueError with a message fit for a client on anything else.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty timestamp")
    if text.lstrip("-").isdigit():
        value = int(text)
        if not 0 <= value <= _EPOCH_MS_MAX:
            raise ValueError(f"epoch milliseconds out of range: {text}")
        return value
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"not RFC 3339 or epoch milliseconds: {text!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"RFC 3339 timestamp needs a time zone (Z or +hh:mm): {text!r}")
    try:
        value = int(parsed.astimezone(UTC).timestamp() * 1000)
    except (OverflowError, ValueError):
        raise ValueError(f"timestamp out of range: {text!r}") from None
    if not 0 <= value <= _EPOCH_MS_MAX:
        raise ValueError(f"timestamp out of range: {text!r}")
    return value
