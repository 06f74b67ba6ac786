"""SQLite storage of news items (see `storage.base.NewsStore`).

Items are unique by id (a hash of the canonical URL), so storing one twice changes
nothing. `news_symbols` indexes items by symbol and time for `/news/{symbol}`; its rows
are derived from the stored item itself, so a later copy of an article with other tags
cannot add a symbol the stored one lacks. News is small and kept forever: retention
does not touch these tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

from cryptoviz.models import NewsItem

if TYPE_CHECKING:
    from cryptoviz.storage.sqlite import SQLiteStorage

_FIELDS: Final = "n.id, n.title, n.url, n.source, n.published_at, n.summary, n.symbols, n.sentiment"
INSERT_NEWS: Final = (
    "INSERT OR IGNORE INTO news (id, title, url, source, published_at, summary, symbols, sentiment)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_NEWS_SYMBOL: Final = (
    "INSERT OR IGNORE INTO news_symbols (symbol, published_at, id)"
    " SELECT ?1, n.published_at, n.id FROM news n WHERE n.id = ?2"
    " AND EXISTS (SELECT 1 FROM json_each(n.symbols) WHERE value = ?1)"
)
LATEST_NEWS: Final = (
    f"SELECT {_FIELDS} FROM news n WHERE n.published_at >= ?"  # noqa: S608 (a constant column list)
    " ORDER BY n.published_at DESC, n.id DESC LIMIT ?"
)
LATEST_NEWS_OF_SYMBOL: Final = (
    f"SELECT {_FIELDS} FROM news_symbols s JOIN news n ON n.id = s.id"  # noqa: S608 (a constant column list)
    " WHERE s.symbol = ? AND s.published_at >= ? ORDER BY s.published_at DESC, s.id DESC LIMIT ?"
)
KNOWN_NEWS: Final = "SELECT id FROM news WHERE id IN (SELECT value FROM json_each(?))"
_SYMBOLS: Final = msgspec.json.Decoder(list[str])
_EARLIEST: Final = -(2**62)


def _json_list(values: list[str]) -> str:
    return msgspec.json.encode(values).decode()


def _item(row: Sequence[Any]) -> NewsItem:
    return NewsItem(row[0], row[1], row[2], row[3], row[4], row[5], _SYMBOLS.decode(row[6]), row[7])


class SQLiteNews:
    def __init__(self, db: SQLiteStorage) -> None:
        self._db = db

    async def insert(self, items: Sequence[NewsItem]) -> int:
        if not items:
            return 0
        rows = [
            (i.id, i.title, i.url, i.source, i.published_at, i.summary, _json_list(i.symbols), i.sentiment)
            for i in items
        ]  # fmt: skip
        tags = [(symbol, i.id) for i in items for symbol in i.symbols]
        changed = await self._db.transaction([(INSERT_NEWS, rows), (INSERT_NEWS_SYMBOL, tags)], "news insert")
        return changed[0]

    async def latest(self, *, limit: int, since: int | None, symbol: str | None) -> list[NewsItem]:
        lo = _EARLIEST if since is None else since
        if symbol is None:
            rows = await self._db.fetch(LATEST_NEWS, (lo, limit))
        else:
            rows = await self._db.fetch(LATEST_NEWS_OF_SYMBOL, (symbol, lo, limit))
        return [_item(r) for r in rows]

    async def known(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        rows = await self._db.fetch(KNOWN_NEWS, (_json_list(list(ids)),))
        return {row[0] for row in rows}
