"""SQLite storage of news items (see `storage.base.NewsStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptoviz.models import NewsItem

if TYPE_CHECKING:
    from cryptoviz.storage.sqlite import SQLiteStorage


class SQLiteNews:
    def __init__(self, db: SQLiteStorage) -> None:
        self._db = db

    async def insert(self, items: Sequence[NewsItem]) -> int:
        raise NotImplementedError("news storage is not built yet")

    async def latest(self, *, limit: int, since: int | None, symbol: str | None) -> list[NewsItem]:
        raise NotImplementedError("news storage is not built yet")
