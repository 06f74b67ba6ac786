"""News routes: the latest articles, all of them or those tagged with one symbol, newest first.

A well-formed symbol without articles gets an empty list rather than a 404: tags come
from a keyword map and from the feeds, so "no news yet" is not an unknown symbol.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery

from cryptoviz.api.envelope import ok
from cryptoviz.api.params import limit_param, symbol_param, time_param
from cryptoviz.api.schemas import Envelope, ErrorEnvelope
from cryptoviz.models import NewsItem
from cryptoviz.runtime import Runtime
from cryptoviz.timeutil import to_rfc3339

DEFAULT_NEWS = 50
MAX_NEWS = 500


class NewsOut(msgspec.Struct):
    id: str
    title: str
    url: str
    source: str
    published_at: str
    """RFC 3339 UTC."""
    summary: str
    symbols: list[str]
    sentiment: float
    """VADER compound score in [-1, 1]."""

    @classmethod
    def of(cls, item: NewsItem) -> NewsOut:
        return cls(
            item.id, item.title, item.url, item.source, to_rfc3339(item.published_at), item.summary,
            item.symbols, item.sentiment,
        )  # fmt: skip


class NewsData(msgspec.Struct):
    data: list[NewsOut]


class SymbolNewsData(msgspec.Struct):
    symbol: str
    data: list[NewsOut]


def _spec(data: type) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(data_container=Envelope[data], description="Success"),  # type: ignore[valid-type]
        400: ResponseSpec(data_container=ErrorEnvelope, description="Bad parameter"),
    }


class NewsController(Controller):
    path = "/api/v1/news"
    tags = ["news"]

    @get("/", responses=_spec(NewsData))
    async def latest(
        self,
        runtime: NamedDependency[Runtime],
        limit: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """The latest `limit` articles (50 by default, 500 at most), published at or after `since`."""
        count = limit_param(limit, DEFAULT_NEWS, MAX_NEWS)
        start = time_param(since, "since")
        items = await runtime.storage.news.latest(limit=count, since=start, symbol=None)
        return ok(NewsData([NewsOut.of(i) for i in items]))

    @get("/{symbol:str}", responses=_spec(SymbolNewsData))
    async def of_symbol(
        self,
        runtime: NamedDependency[Runtime],
        symbol: FromPath[str],
        limit: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """The latest articles tagged with `symbol`, with the same `limit` and `since` as `/news`."""
        name = symbol_param(symbol)
        count = limit_param(limit, DEFAULT_NEWS, MAX_NEWS)
        start = time_param(since, "since")
        items = await runtime.storage.news.latest(limit=count, since=start, symbol=name)
        return ok(SymbolNewsData(name, [NewsOut.of(i) for i in items]))
