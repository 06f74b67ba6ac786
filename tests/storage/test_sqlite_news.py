"""SQLiteNews: idempotent inserts, newest first, `since`, symbols, known ids, kept forever."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from cryptoviz.models import NewsItem
from cryptoviz.storage.sqlite import SQLiteStorage


def item(n: int, published: int, symbols: list[str] | None = None, title: str = "") -> NewsItem:
    return NewsItem(
        id=f"{n:032x}", title=title or f"title {n}", url=f"https://x.io/{n}", source="x.io",
        published_at=published, summary=f"summary {n} \u2018quoted\u2019", symbols=symbols or [],
        sentiment=n / 100 - 0.5,
    )  # fmt: skip


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    store = SQLiteStorage(tmp_path / "news.db")
    await store.open()
    yield store
    await store.close()


async def test_insert_counts_new_items_and_ignores_repeats(storage: SQLiteStorage) -> None:
    items = [item(1, 1000, ["BTCUSDT"]), item(2, 2000), item(3, 3000, ["BTCUSDT", "ETHUSDT"])]
    assert await storage.news.insert(items) == 3
    assert await storage.news.insert(items) == 0
    assert await storage.news.insert([item(4, 4000), item(4, 4000), item(1, 1000)]) == 1
    assert await storage.news.insert([]) == 0
    rows = sqlite3.connect(storage.path).execute("SELECT count(*) FROM news").fetchone()
    assert rows == (4,)


async def test_items_round_trip_newest_first(storage: SQLiteStorage) -> None:
    items = [item(1, 1000, ["BTCUSDT"]), item(2, 3000), item(3, 2000, ["ETHUSDT", "BTCUSDT"])]
    await storage.news.insert(items)
    latest = await storage.news.latest(limit=10, since=None, symbol=None)
    assert latest == [items[1], items[2], items[0]]
    assert await storage.news.latest(limit=2, since=None, symbol=None) == [items[1], items[2]]


async def test_ties_on_time_are_ordered_by_id_descending(storage: SQLiteStorage) -> None:
    await storage.news.insert([item(5, 1000), item(9, 1000), item(7, 1000)])
    assert [i.id[-1] for i in await storage.news.latest(limit=10, since=None, symbol=None)] == ["9", "7", "5"]


async def test_since_is_inclusive(storage: SQLiteStorage) -> None:
    await storage.news.insert([item(n, n * 1000, ["BTCUSDT"]) for n in range(1, 6)])
    assert [i.published_at for i in await storage.news.latest(limit=10, since=3000, symbol=None)] == [
        5000, 4000, 3000,
    ]  # fmt: skip
    assert [i.published_at for i in await storage.news.latest(limit=10, since=3000, symbol="BTCUSDT")] == [
        5000, 4000, 3000,
    ]  # fmt: skip
    assert await storage.news.latest(limit=10, since=6000, symbol=None) == []


async def test_by_symbol(storage: SQLiteStorage) -> None:
    items = [item(1, 1000, ["BTCUSDT"]), item(2, 2000, ["ETHUSDT"]), item(3, 3000, ["BTCUSDT", "ETHUSDT"])]
    await storage.news.insert(items)
    assert await storage.news.latest(limit=10, since=None, symbol="BTCUSDT") == [items[2], items[0]]
    assert await storage.news.latest(limit=1, since=None, symbol="ETHUSDT") == [items[2]]
    assert await storage.news.latest(limit=10, since=None, symbol="SOLUSDT") == []


async def test_a_later_copy_cannot_change_the_stored_item_or_its_tags(storage: SQLiteStorage) -> None:
    original = item(1, 1000, ["BTCUSDT"])
    await storage.news.insert([original])
    retagged = msgspec.structs.replace(
        original, published_at=9000, symbols=["BTCUSDT", "SOLUSDT"], title="changed"
    )
    assert await storage.news.insert([retagged]) == 0
    assert await storage.news.latest(limit=10, since=None, symbol=None) == [original]
    assert await storage.news.latest(limit=10, since=None, symbol="SOLUSDT") == []
    assert await storage.news.latest(limit=10, since=None, symbol="BTCUSDT") == [original]
    tags = sqlite3.connect(storage.path).execute("SELECT symbol, published_at FROM news_symbols").fetchall()
    assert tags == [("BTCUSDT", 1000)]


async def test_known_ids(storage: SQLiteStorage) -> None:
    await storage.news.insert([item(1, 1000), item(2, 2000)])
    assert await storage.news.known([item(1, 0).id, item(3, 0).id, item(2, 0).id]) == {
        item(1, 0).id,
        item(2, 0).id,
    }
    assert await storage.news.known([]) == set()
    assert await storage.news.known(["x' OR '1'='1", "%"]) == set()


async def test_news_survives_reopening_and_retention(storage: SQLiteStorage, tmp_path: Path) -> None:
    await storage.news.insert([item(1, 1000, ["BTCUSDT"])])
    assert await storage.prune({"trades": 0.001, "1m": 0.001}) is not None
    await storage.close()
    again = SQLiteStorage(storage.path)
    await again.open()
    try:
        assert [i.id for i in await again.news.latest(limit=5, since=None, symbol="BTCUSDT")] == [
            item(1, 0).id
        ]
    finally:
        await again.close()
