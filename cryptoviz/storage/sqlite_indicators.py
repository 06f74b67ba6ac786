"""SQLite storage of indicator points and series state (see `storage.base.IndicatorStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptoviz.models import IndicatorPoint

if TYPE_CHECKING:
    from cryptoviz.storage.sqlite import SQLiteStorage


class SQLiteIndicators:
    def __init__(self, db: SQLiteStorage) -> None:
        self._db = db

    async def upsert(self, points: Sequence[IndicatorPoint]) -> None:
        raise NotImplementedError("indicator storage is not built yet")

    async def points(
        self, symbol: str, kind: str, interval: str, *, start: int | None, end: int | None, limit: int
    ) -> list[IndicatorPoint]:
        raise NotImplementedError("indicator storage is not built yet")
