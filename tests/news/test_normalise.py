"""Entries to items: ids, plain bounded text, dates, then symbols and sentiment."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryptoviz.news.canonical import canonical_url, news_id
from cryptoviz.news.normalise import MAX_SUMMARY, MAX_TITLE, Enricher, draft
from cryptoviz.news.parse import FeedEntry, parse_cryptopanic, parse_feed
from cryptoviz.news.sentiment import SentimentScorer
from cryptoviz.news.tagging import KeywordTagger
from cryptoviz.timeutil import parse_timestamp

NOW = parse_timestamp("2025-12-13T12:00:00Z")
KEYWORDS = {"BTCUSDT": ["bitcoin", "btc"], "ETHUSDT": ["ethereum", "eth", "ether"], "SOLUSDT": ["solana"]}


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher(KeywordTagger(KEYWORDS), SentimentScorer())


def test_cointelegraph_drafts_are_canonical_plain_and_dated(testdata: Path) -> None:
    entries = parse_feed((testdata / "news" / "cointelegraph.rss").read_bytes(), "", 200).entries
    drafts = [draft(e, NOW) for e in entries]
    assert all(d is not None for d in drafts)
    first = drafts[0]
    assert first is not None
    assert first.url == "https://cointelegraph.com/news/figure-technology-solana-onchain-equity-second-ipo"
    assert first.id == news_id(first.url)
    assert first.source == "cointelegraph.com"
    assert first.published_at == parse_timestamp("2025-12-12T16:57:28Z")
    assert first.summary.startswith("Figure is planning a second IPO to issue blockchain-native equity")
    assert "<" not in first.summary
    assert len({d.id for d in drafts if d}) == 30


def test_cryptopanic_drafts_keep_the_publisher_and_codes(testdata: Path, enricher: Enricher) -> None:
    entries = parse_cryptopanic(
        (testdata / "news" / "cryptopanic-posts-2018-01.json").read_bytes(), 200
    ).entries
    first = draft(entries[0], NOW)
    assert first is not None
    assert first.title == "NEO ($NEO) price is up 20.99%"
    assert first.source == "coinmarketcap.com"
    assert first.codes == ("NEO",)
    tagged = [enricher.item(d) for d in (draft(e, NOW) for e in entries) if d]
    assert len(tagged) == 40
    btc = [i for i in tagged if "BTCUSDT" in i.symbols]
    assert btc
    assert all(-1.0 <= i.sentiment <= 1.0 for i in tagged)


def test_dates_fall_back_to_the_fetch_time_and_never_run_ahead_of_it() -> None:
    cases = {None: NOW, NOW + 86_400_000: NOW, -5: NOW, NOW - 1000: NOW - 1000}
    for published, expected in cases.items():
        d = draft(FeedEntry("t", "https://x.io/a", "", published), NOW)
        assert d is not None
        assert d.published_at == expected, published


@pytest.mark.parametrize(
    "entry",
    [
        FeedEntry("title", "", "", None),
        FeedEntry("title", "javascript:alert(1)", "", None),
        FeedEntry("title", "/relative", "", None),
        FeedEntry("", "https://x.io/a", "summary", None),
        FeedEntry("<img src=x>", "https://x.io/a", "summary", None),
    ],
)
def test_entries_without_a_web_link_or_a_title_are_dropped(entry: FeedEntry) -> None:
    assert draft(entry, NOW) is None


def test_lengths_are_bounded() -> None:
    long = FeedEntry("Bitcoin " * 500, "https://x.io/a", "<p>" + "ether " * 100_000 + "</p>", None, "s" * 500)
    d = draft(long, NOW)
    assert d is not None
    assert len(d.title) <= MAX_TITLE
    assert len(d.summary) <= MAX_SUMMARY
    assert len(d.source) <= 100
    assert d.title.endswith("…")


def test_enricher_tags_and_scores(enricher: Enricher) -> None:
    d = draft(
        FeedEntry("Bitcoin soars to a record, great gains", "https://x.io/a?utm_medium=rss", "", None), NOW
    )
    assert d is not None
    item = enricher.item(d)
    assert item.symbols == ["BTCUSDT"]
    assert item.sentiment > 0.3
    assert item.url == canonical_url("https://x.io/a")
    assert (item.id, item.title, item.published_at) == (d.id, d.title, NOW)
    sad = draft(
        FeedEntry("Solana network outage", "https://x.io/b", "Ether holders panic and lose funds", None), NOW
    )
    assert sad is not None
    item = enricher.item(sad)
    assert item.symbols == ["ETHUSDT", "SOLUSDT"]  # the summary counts too
    assert item.sentiment < 0
