"""Indicator route: the stored final points of one symbol, type and interval."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery

from cryptoviz.api.envelope import ApiError, ok
from cryptoviz.api.params import interval_param, limit_param, symbol_param, time_range
from cryptoviz.api.schemas import Envelope, ErrorEnvelope
from cryptoviz.models import INDICATOR_TYPES, IndicatorPoint
from cryptoviz.runtime import Runtime

MAX_POINTS = 1000


class PointOut(msgspec.Struct, omit_defaults=True):
    """`value` is the RSI, the MACD line, the middle band or the momentum; MACD adds
    `signal` and `histogram`, Bollinger `upper` and `lower`."""

    ts: int
    """Open time of the candle, epoch ms."""
    value: float
    signal: float | None = None
    histogram: float | None = None
    upper: float | None = None
    lower: float | None = None

    @classmethod
    def of(cls, p: IndicatorPoint) -> PointOut:
        return cls(p.ts, p.value, p.signal, p.histogram, p.upper, p.lower)


class IndicatorData(msgspec.Struct):
    symbol: str
    type: str
    interval: str
    data: list[PointOut]


def kind_param(raw: str) -> str:
    if raw not in INDICATOR_TYPES:
        raise ApiError(
            400,
            "invalid_type",
            f"invalid indicator type {raw[:20]!r}: expected one of {', '.join(INDICATOR_TYPES)}",
        )
    return raw


class IndicatorsController(Controller):
    path = "/api/v1/indicators"
    tags = ["indicators"]

    @get(
        "/{symbol:str}/{type:str}",
        responses={
            200: ResponseSpec(data_container=Envelope[IndicatorData], description="Success"),
            400: ResponseSpec(data_container=ErrorEnvelope, description="Bad parameter"),
            404: ResponseSpec(data_container=ErrorEnvelope, description="Unknown symbol"),
        },
    )
    async def points(
        self,
        runtime: NamedDependency[Runtime],
        symbol: FromPath[str],
        type: FromPath[str],
        interval: FromQuery[str | None] = None,
        limit: FromQuery[str | None] = None,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """Final points oldest first: the latest `limit`, or `limit` from `start` when it is given."""
        name = symbol_param(symbol)
        kind = kind_param(type)
        tf = interval_param(interval)
        count = limit_param(limit, 100, MAX_POINTS)
        lo, hi = time_range(start, end)
        if not any(info.symbol == name for info in await runtime.storage.symbols()):
            raise ApiError(404, "unknown_symbol", f"unknown symbol {name}: no trades recorded for it")
        points = await runtime.storage.indicators.points(name, kind, tf, start=lo, end=hi, limit=count)
        return ok(IndicatorData(name, kind, tf, [PointOut.of(p) for p in points]))
