"""Market data routes: candles, latest price, 24 h stats, symbols."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery

from cryptoviz.api.envelope import ApiError, ok
from cryptoviz.api.params import interval_param, limit_param, symbol_param, time_range
from cryptoviz.api.schemas import (
    CandleOut,
    CandlesData,
    Envelope,
    ErrorEnvelope,
    LatestData,
    StatsData,
    SymbolOut,
)
from cryptoviz.runtime import Runtime
from cryptoviz.timeutil import to_rfc3339

MAX_CANDLES = 1000


def _spec(data: type) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(data_container=Envelope[data], description="Success"),  # type: ignore[valid-type]
        400: ResponseSpec(data_container=ErrorEnvelope, description="Bad parameter"),
        404: ResponseSpec(data_container=ErrorEnvelope, description="Unknown symbol"),
    }


async def _known(runtime: NamedDependency[Runtime], raw: str) -> str:
    symbol = symbol_param(raw)
    if not any(info.symbol == symbol for info in await runtime.storage.symbols()):
        raise ApiError(404, "unknown_symbol", f"unknown symbol {symbol}: no trades recorded for it")
    return symbol


class MarketController(Controller):
    path = "/api/v1"
    tags = ["market"]

    @get("/crypto/{symbol:str}/data", responses=_spec(CandlesData))
    async def candles(
        self,
        runtime: NamedDependency[Runtime],
        symbol: FromPath[str],
        interval: FromQuery[str | None] = None,
        limit: FromQuery[str | None] = None,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """Candles oldest first: the latest `limit`, or `limit` from `start` when it is given."""
        tf = interval_param(interval)
        count = limit_param(limit, 100, MAX_CANDLES)
        lo, hi = time_range(start, end)
        name = await _known(runtime, symbol)
        candles = await runtime.storage.candles(name, tf, start=lo, end=hi, limit=count)
        return ok(CandlesData(name, tf, [CandleOut.of(c) for c in candles]))

    @get("/crypto/{symbol:str}/latest", responses=_spec(LatestData))
    async def latest(self, runtime: NamedDependency[Runtime], symbol: FromPath[str]) -> Response[bytes]:
        """The last trade's price and trade time."""
        name = await _known(runtime, symbol)
        trade = await runtime.storage.latest_trade(name)
        if trade is None:
            raise ApiError(404, "unknown_symbol", f"no trades stored for {name}")
        return ok(LatestData(name, trade.price, to_rfc3339(trade.time)))

    @get("/stats/{symbol:str}", responses=_spec(StatsData))
    async def stats(self, runtime: NamedDependency[Runtime], symbol: FromPath[str]) -> Response[bytes]:
        """High, low, volume and percent change over the 24 h ending at the last trade."""
        name = await _known(runtime, symbol)
        stats = await runtime.storage.stats_24h(name)
        if stats is None:
            raise ApiError(404, "unknown_symbol", f"no trades stored for {name}")
        return ok(StatsData(name, stats.high_24h, stats.low_24h, stats.change_24h, stats.volume_24h))

    @get("/symbols", responses=_spec(list[SymbolOut]))
    async def symbols(self, runtime: NamedDependency[Runtime]) -> Response[bytes]:
        """Every symbol with recorded trades."""
        infos = await runtime.storage.symbols()
        return ok(
            [
                SymbolOut(i.symbol, i.exchange, to_rfc3339(i.first_trade), to_rfc3339(i.last_trade))
                for i in infos
            ]
        )
