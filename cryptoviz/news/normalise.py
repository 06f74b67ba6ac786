"""Feed entries to `NewsItem`s, in two steps so known articles cost almost nothing.

`draft` does the cheap part (canonical URL, id, plain text, bounded lengths, date), which
is enough to tell whether the article is already known; `Enricher.item` then adds the
symbols and the sentiment, the costly part, only for articles that are new.
"""

from __future__ import annotations

from typing import Final

import msgspec

from cryptoviz.models import NewsItem
from cryptoviz.news.canonical import canonical_url, news_id, site_of
from cryptoviz.news.parse import FeedEntry
from cryptoviz.news.sentiment import SentimentScorer
from cryptoviz.news.tagging import KeywordTagger
from cryptoviz.news.text import clip, strip_html

MAX_TITLE: Final = 300
MAX_SUMMARY: Final = 1000
MAX_SOURCE: Final = 100
MAX_CODES: Final = 20


class Draft(msgspec.Struct, frozen=True):
    """An entry with its id and bounded plain-text fields, not yet tagged or scored."""

    id: str
    title: str
    url: str
    source: str
    published_at: int
    summary: str
    codes: tuple[str, ...] = ()


def draft(entry: FeedEntry, fetched_at: int) -> Draft | None:
    """The entry's draft, or None when it has no http(s) link or no title.

    The date is the entry's own, else the fetch time; a date ahead of the fetch time (a
    wrong clock or a typo in the feed) is brought back to it, so no item stays on top of
    the list for ever.
    """
    url = canonical_url(entry.link)
    if url is None:
        return None
    title = clip(strip_html(entry.title, MAX_TITLE * 4), MAX_TITLE)
    if not title:
        return None
    summary = clip(strip_html(entry.summary, MAX_SUMMARY * 4), MAX_SUMMARY)
    source = clip(entry.source.strip().lower() or site_of(url), MAX_SOURCE)
    published = entry.published
    if published is None or published < 0 or published > fetched_at:
        published = fetched_at
    codes = tuple(c[:20] for c in entry.codes[:MAX_CODES])
    return Draft(news_id(url), title, url, source, published, summary, codes)


class Enricher:
    """Tags and scores drafts; holds the keyword tagger and the VADER analyzer, built once."""

    def __init__(self, tagger: KeywordTagger, scorer: SentimentScorer) -> None:
        self._tagger = tagger
        self._scorer = scorer

    def item(self, d: Draft) -> NewsItem:
        symbols = self._tagger.tag((d.title, d.summary), d.codes)
        text = f"{d.title}. {d.summary}" if d.summary else d.title
        return NewsItem(
            id=d.id, title=d.title, url=d.url, source=d.source, published_at=d.published_at,
            summary=d.summary, symbols=symbols, sentiment=self._scorer.score(text),
        )  # fmt: skip
