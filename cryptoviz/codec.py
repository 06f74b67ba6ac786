"""JSON on the way out: decimals written as exact JSON numbers, never as floats."""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.json.Encoder(decimal_format="number")


def encode_json(value: Any) -> bytes:
    return _encoder.encode(value)
