"""PostgreSQL news store: SQLite's news tests run unchanged, plus those that look at the rows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from cryptoviz.storage.postgres import PostgresStorage
from tests.storage import test_sqlite_news
from tests.storage.postgres_db import count, open_storage, query, shared_tests
from tests.storage.test_sqlite_news import item

SQLITE_ONLY = {
    "test_insert_counts_new_items_and_ignores_repeats",  # counts rows in the SQLite file: below
    "test_a_later_copy_cannot_change_the_stored_item_or_its_tags",  # reads SQLite's tags: below
    "test_news_survives_reopening_and_retention",  # reopens a SQLite file: below
}
globals().update(shared_tests(test_sqlite_news, SQLITE_ONLY))


@pytest.fixture
async def storage(postgres_dsn: str) -> AsyncIterator[PostgresStorage]:
    async with open_storage(postgres_dsn) as store:
        yield store


def dsn(storage: PostgresStorage) -> str:
    return storage.pool.dsn


async def test_insert_counts_new_items_and_ignores_repeats(storage: PostgresStorage) -> None:
    items = [item(1, 1000, ["BTCUSDT"]), item(2, 2000), item(3, 3000, ["BTCUSDT", "ETHUSDT"])]
    assert await storage.news.insert(items) == 3
    assert await storage.news.insert(items) == 0
    assert await storage.news.insert([item(4, 4000), item(4, 4000), item(1, 1000)]) == 1
    assert await storage.news.insert([]) == 0
    assert await count(dsn(storage), "news") == 4
    assert await count(dsn(storage), "news_symbols") == 3


async def test_a_later_copy_cannot_change_the_stored_item_or_its_tags(storage: PostgresStorage) -> None:
    original = item(1, 1000, ["BTCUSDT"])
    await storage.news.insert([original])
    retagged = msgspec.structs.replace(
        original, published_at=9000, symbols=["BTCUSDT", "SOLUSDT"], title="changed"
    )
    assert await storage.news.insert([retagged]) == 0
    assert await storage.news.latest(limit=10, since=None, symbol=None) == [original]
    assert await storage.news.latest(limit=10, since=None, symbol="SOLUSDT") == []
    assert await storage.news.latest(limit=10, since=None, symbol="BTCUSDT") == [original]
    tags = await query(dsn(storage), "SELECT symbol, published_at FROM news_symbols")
    assert tags == [("BTCUSDT", 1000)]


async def test_symbols_keep_their_order_and_odd_text_round_trips(storage: PostgresStorage) -> None:
    """Symbols travel as JSON inside the batch's arrays: order, quotes and backslashes survive."""
    odd = msgspec.structs.replace(
        item(1, 1000, ["ETHUSDT", "BTCUSDT", "ADAUSDT"]),
        title='a "quoted" title, with \\ and \u00e9\u20ac and emoji \U0001f680',
        summary="line one\nline two\t{not json}",
    )
    assert await storage.news.insert([odd]) == 1
    assert await storage.news.latest(limit=1, since=None, symbol="ADAUSDT") == [odd]


async def test_news_survives_reopening_and_retention(storage: PostgresStorage) -> None:
    await storage.news.insert([item(1, 1000, ["BTCUSDT"])])
    assert await storage.prune({"trades": 0.001, "1m": 0.001}) is not None
    await storage.close()
    again = PostgresStorage(dsn(storage))
    await again.open()
    try:
        assert [i.id for i in await again.news.latest(limit=5, since=None, symbol="BTCUSDT")] == [
            item(1, 0).id
        ]
    finally:
        await again.close()
