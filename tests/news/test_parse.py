"""Feed documents to entries: the recorded feeds, Atom, and every way a document can be broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cryptoviz.news.errors import FeedError
from cryptoviz.news.parse import parse_cryptopanic, parse_feed
from cryptoviz.timeutil import parse_timestamp

RSS = "application/rss+xml"
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Example</title>
  <entry><title type="html">Ether &lt;b&gt;jumps&lt;/b&gt;</title>
    <link rel="alternate" href="https://example.com/ether?utm_source=atom"/>
    <id>urn:uuid:1</id><updated>2024-01-02T03:04:05Z</updated>
    <content type="html">&lt;p&gt;Body text&lt;/p&gt;</content></entry>
  <entry><title>Undated</title><id>https://example.com/undated</id></entry>
</feed>"""


@pytest.fixture(scope="module")
def news(testdata: Path) -> Path:
    return testdata / "news"


def test_coindesk_entries_with_their_summaries(news: Path) -> None:
    parsed = parse_feed((news / "coindesk.rss").read_bytes(), RSS, 200)
    assert parsed.problem is None
    assert len(parsed.entries) == 25
    first = parsed.entries[0]
    assert first.title == "Citadel Securities and DeFi Waging War of Words Through SEC Correspondence"
    assert first.link.startswith("https://www.coindesk.com/policy/2025/12/12/citadel-securities")
    # The empty <dc:description/> after each <description> does not erase the summary.
    assert first.summary.startswith("The investing giant had asked the U.S. Securities")
    assert all(e.summary for e in parsed.entries)
    assert first.published == parse_timestamp("2025-12-12T22:20:18Z")


def test_cointelegraph_entries(news: Path) -> None:
    parsed = parse_feed((news / "cointelegraph.rss").read_bytes(), RSS, 200)
    assert parsed.problem is None
    assert len(parsed.entries) == 30
    assert len({e.link for e in parsed.entries}) == 30
    assert all("utm_source=rss_feed" in e.link for e in parsed.entries)
    assert all(e.published is not None for e in parsed.entries)


def test_max_entries_bounds_what_is_read(news: Path) -> None:
    parsed = parse_feed((news / "cointelegraph.rss").read_bytes(), RSS, 7)
    assert len(parsed.entries) == 7
    full = parse_feed((news / "cointelegraph.rss").read_bytes(), RSS, 200)
    assert parsed.entries == full.entries[:7]


def test_atom_links_content_and_dates() -> None:
    parsed = parse_feed(ATOM, "application/atom+xml", 200)
    assert parsed.problem is None
    ether, undated = parsed.entries
    assert ether.link == "https://example.com/ether?utm_source=atom"
    assert "jumps" in ether.title
    assert "Body text" in ether.summary
    assert ether.published == parse_timestamp("2024-01-02T03:04:05Z")
    assert undated.link == "https://example.com/undated"  # an http(s) guid stands in for the link
    assert undated.published is None


def test_a_truncated_feed_keeps_the_entries_before_the_cut_but_the_last(news: Path) -> None:
    body = (news / "coindesk.rss").read_bytes()
    full = parse_feed(body, RSS, 200).entries
    parsed = parse_feed(body[: len(body) // 2], RSS, 200)
    assert parsed.problem is not None
    assert parsed.problem.startswith("malformed feed (")
    assert "at line" in parsed.problem
    kept = len(parsed.entries)
    assert f"kept {kept} of {kept + 1} entries" in parsed.problem
    assert 5 < kept < 25
    assert parsed.entries == full[:kept]  # each kept entry is complete


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", "(text/html)"),
        (b"", "", "not an RSS or Atom feed"),
        (b"not xml at all {", "text/plain", "syntax error"),
        (b'{"results": []}', "application/json", "not an RSS or Atom feed"),
    ],
)
def test_documents_that_are_no_feed_raise_a_clear_error(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(FeedError, match="not an RSS or Atom feed") as info:
        parse_feed(body, content_type, 200)
    assert message in str(info.value)
    assert info.value.retriable


def test_cryptopanic_posts(news: Path) -> None:
    body = (news / "cryptopanic-posts-2018-01.json").read_bytes()
    parsed = parse_cryptopanic(body, 200)
    assert (parsed.problem, parsed.skipped) == (None, 0)
    assert len(parsed.entries) == 40
    first = parsed.entries[0]
    assert first.link == "https://cryptopanic.com/news/841770/NEO-NEO-price-is-up-2099-in-the-last-24h"
    assert first.source == "coinmarketcap.com"
    assert first.codes == ("NEO",)
    assert first.summary == "<p>This post is auto-generated based on coinmarketcap.com data.</p>"
    assert first.published == parse_timestamp("2018-01-18T09:45:28.965Z")
    assert sum(1 for e in parsed.entries if e.codes) == 31
    assert len(parse_cryptopanic(body, 5).entries) == 5


def test_cryptopanic_bad_posts_are_skipped_and_counted_and_v2_fields_read() -> None:
    posts = [
        {"title": "ok", "url": "https://cryptopanic.com/news/1/a", "published_at": "2024-05-01T00:00:00Z"},
        {"title": 42, "url": "https://cryptopanic.com/news/2/b"},
        {"title": "v2", "id": 3, "slug": "c", "description": "desc", "published_at": "not a date",
         "created_at": "2024-05-02T00:00:00Z", "original_url": "https://example.com/c"},
        {"title": "by id", "id": 4, "slug": "d"},
    ]  # fmt: skip
    parsed = parse_cryptopanic(json.dumps({"results": posts}).encode(), 200)
    assert parsed.skipped == 1
    assert [e.title for e in parsed.entries] == ["ok", "v2", "by id"]
    assert parsed.entries[1].link == "https://example.com/c"
    assert parsed.entries[1].summary == "desc"
    assert parsed.entries[1].published == parse_timestamp("2024-05-02T00:00:00Z")
    assert parsed.entries[2].link == "https://cryptopanic.com/news/4/d"
    assert parsed.entries[2].published is None


@pytest.mark.parametrize(
    "body", [b"", b"<html>error</html>", b'{"status": "Incomplete", "info": "Token not found"}', b"[1, 2]"]
)
def test_cryptopanic_error_bodies_raise(body: bytes) -> None:
    with pytest.raises(FeedError, match="not a CryptoPanic posts response"):
        parse_cryptopanic(body, 200)
