"""PostgreSQL storage of news items (see `storage.base.NewsStore`), as in SQLite.

Items are unique by id, so storing one twice changes nothing. `news_symbols` indexes
items by symbol and time for `/news/{symbol}`; its rows are derived from the stored item
itself, so a later copy of an article with other tags cannot add a symbol the stored one
lacks. Each item's symbols travel as a JSON list inside the batch's arrays (arrays of
arrays would flatten) and are stored as `text[]`. News is kept forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

from cryptoviz.models import NewsItem

if TYPE_CHECKING:
    from cryptoviz.storage.postgres import PostgresStorage

INSERT_NEWS: Final = (
    "INSERT INTO news (id, title, url, source, published_at, summary, symbols, sentiment)"
    " SELECT n.id, n.title, n.url, n.source, n.published_at, n.summary,"
    " ARRAY(SELECT e.value FROM jsonb_array_elements_text(n.symbols::jsonb) WITH ORDINALITY AS e(value, pos)"
    " ORDER BY e.pos), n.sentiment"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],"
    " $8::float8[]) AS n(id, title, url, source, published_at, summary, symbols, sentiment)"
    " ON CONFLICT (id) DO NOTHING"
)
INSERT_NEWS_SYMBOLS: Final = (
    "INSERT INTO news_symbols (symbol, published_at, id)"
    " SELECT t.symbol, n.published_at, n.id FROM unnest($1::text[], $2::text[]) AS t(symbol, id)"
    " JOIN news n ON n.id = t.id WHERE t.symbol = ANY(n.symbols) ON CONFLICT DO NOTHING"
)
LATEST_NEWS: Final = (
    "SELECT id, title, url, source, published_at, summary, symbols, sentiment FROM news"
    " WHERE published_at >= $1 ORDER BY published_at DESC, id DESC LIMIT $2"
)
LATEST_NEWS_OF_SYMBOL: Final = (
    "SELECT n.id, n.title, n.url, n.source, n.published_at, n.summary, n.symbols, n.sentiment"
    " FROM news_symbols s JOIN news n ON n.id = s.id"
    " WHERE s.symbol = $1 AND s.published_at >= $2 ORDER BY s.published_at DESC, s.id DESC LIMIT $3"
)
KNOWN_NEWS: Final = "SELECT id FROM news WHERE id = ANY($1::text[])"
_EARLIEST: Final = -(2**62)
_ENCODE: Final = msgspec.json.encode


def _item(row: Sequence[Any]) -> NewsItem:
    return NewsItem(row[0], row[1], row[2], row[3], row[4], row[5], list(row[6]), row[7])


class PostgresNews:
    def __init__(self, db: PostgresStorage) -> None:
        self._db = db

    async def insert(self, items: Sequence[NewsItem]) -> int:
        if not items:
            return 0
        columns: list[list[Any]] = [[] for _ in range(8)]
        for i in items:
            row = (i.id, i.title, i.url, i.source, i.published_at, i.summary, _ENCODE(i.symbols).decode(),
                   i.sentiment)  # fmt: skip
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        tags = sorted({(symbol, i.id) for i in items for symbol in i.symbols})
        async with self._db.pool.transaction("news insert") as conn:
            inserted = await conn.execute(INSERT_NEWS, *columns)
            await conn.execute(INSERT_NEWS_SYMBOLS, [s for s, _ in tags], [i for _, i in tags])
        return inserted

    async def latest(self, *, limit: int, since: int | None, symbol: str | None) -> list[NewsItem]:
        lo = _EARLIEST if since is None else since
        if symbol is None:
            rows = await self._db.pool.fetch(LATEST_NEWS, lo, limit)
        else:
            rows = await self._db.pool.fetch(LATEST_NEWS_OF_SYMBOL, symbol, lo, limit)
        return [_item(r) for r in rows]

    async def known(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return {row[0] for row in await self._db.pool.fetch(KNOWN_NEWS, list(ids))}
