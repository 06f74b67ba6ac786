"""Feed documents to typed entries: RSS and Atom through feedparser, CryptoPanic posts through msgspec.

feedparser ships without type hints; this is the only module that touches it, and what
leaves here is plain typed data. A document that is no feed at all (an HTML error page,
an empty body) raises `FeedError`. A feed cut or broken part way keeps the entries read
before the break except the last one, which may itself be cut, and says so in `problem`.
"""

from __future__ import annotations

import calendar
import re
import xml.sax
from collections.abc import Mapping
from typing import Any, Final

import feedparser  # type: ignore[import-untyped]
import msgspec

from cryptoviz.news.errors import FeedError
from cryptoviz.timeutil import parse_timestamp

_EMPTY_DC_DESCRIPTION: Final = re.compile(rb"<dc:description\s*/>|<dc:description>\s*</dc:description>")
"""CoinDesk follows each `<description>` with an empty `<dc:description/>`, which feedparser
maps to the same summary field, so the real summary would be lost."""


class FeedEntry(msgspec.Struct, frozen=True):
    """One entry as the feed gave it, before normalisation."""

    title: str
    link: str
    summary: str
    published: int | None
    """Epoch ms, None when the entry has no usable date."""
    source: str = ""
    """The publisher's domain when the feed names it (CryptoPanic does)."""
    codes: tuple[str, ...] = ()
    """Currency codes the feed tagged the entry with (CryptoPanic)."""


class ParsedFeed(msgspec.Struct, frozen=True):
    entries: list[FeedEntry]
    problem: str | None = None
    """Set when the document was broken part way; `entries` holds what could be kept."""
    skipped: int = 0
    """Entries dropped because they could not be read (beyond `max_entries` not counted)."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _date(entry: Mapping[str, Any]) -> int | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed is not None:
            try:
                return calendar.timegm(parsed) * 1000
            except (TypeError, ValueError, OverflowError):
                continue
    return None


def _entry(entry: Mapping[str, Any]) -> FeedEntry:
    link = _text(entry.get("link"))
    guid = _text(entry.get("id"))
    if not link and guid.lower().startswith(("http://", "https://")):
        link = guid
    summary = _text(entry.get("summary"))
    if not summary:
        contents = entry.get("content")
        if isinstance(contents, list):
            summary = next((_text(c.get("value")) for c in contents if _text(c.get("value"))), "")
    return FeedEntry(_text(entry.get("title")), link, summary, _date(entry))


def parse_feed(body: bytes, content_type: str, max_entries: int) -> ParsedFeed:
    """RSS or Atom `body` to at most `max_entries` entries, in document order."""
    document = _EMPTY_DC_DESCRIPTION.sub(b"", body)
    parsed: Any = feedparser.parse(document, response_headers={"content-type": content_type or "text/xml"})
    version = _text(parsed.get("version"))
    entries: list[Any] = list(parsed.get("entries") or [])
    error = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(error, feedparser.ThingsNobodyCaresAboutButMe):
        error = None  # an encoding or media type the document contradicts: harmless
    if not version:
        what = f" ({content_type.split(';')[0].strip()})" if content_type else ""
        detail = f": {error}" if error is not None else ""
        raise FeedError(f"not an RSS or Atom feed{what}{detail}")
    problem = None
    if error is not None:
        where = ""
        if isinstance(error, xml.sax.SAXParseException):
            where = f" at line {error.getLineNumber()}"
            error = error.getMessage()
        kept = max(0, len(entries) - 1)
        problem = f"malformed feed ({error}{where}): kept {kept} of {len(entries)} entries"
        entries = entries[:-1]
    return ParsedFeed([_entry(e) for e in entries[:max_entries]], problem)


class _Source(msgspec.Struct):
    domain: str | None = None


class _Currency(msgspec.Struct):
    code: str | None = None


class _Post(msgspec.Struct):
    """A CryptoPanic post (API v1 and v2 share these fields; v2 may add `original_url`)."""

    title: str | None = None
    url: str | None = None
    original_url: str | None = None
    id: int | str | None = None
    slug: str | None = None
    published_at: str | None = None
    created_at: str | None = None
    body: str | None = None
    description: str | None = None
    domain: str | None = None
    source: _Source | None = None
    currencies: list[_Currency] | None = None


class _Page(msgspec.Struct):
    results: list[msgspec.Raw]


_POST_DECODER: Final = msgspec.json.Decoder(_Post)
_PAGE_DECODER: Final = msgspec.json.Decoder(_Page)


def _post_entry(post: _Post) -> FeedEntry:
    link = post.original_url or post.url or ""
    if not link and post.id is not None:
        link = f"https://cryptopanic.com/news/{post.id}/{post.slug or ''}"
    published = None
    for stamp in (post.published_at, post.created_at):
        if stamp:
            try:
                published = parse_timestamp(stamp)
                break
            except ValueError:
                continue
    source = (post.source.domain if post.source else None) or post.domain or ""
    codes = tuple(c.code for c in post.currencies or () if c.code)
    return FeedEntry(post.title or "", link, post.description or post.body or "", published, source, codes)


def parse_cryptopanic(body: bytes, max_entries: int) -> ParsedFeed:
    """A CryptoPanic `/posts/` response to entries; a post that cannot be read is skipped and counted."""
    try:
        page = _PAGE_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise FeedError(f"not a CryptoPanic posts response: {str(exc)[:200]}") from None
    entries: list[FeedEntry] = []
    skipped = 0
    for raw in page.results[:max_entries]:
        try:
            entries.append(_post_entry(_POST_DECODER.decode(raw)))
        except msgspec.DecodeError:
            skipped += 1
    return ParsedFeed(entries, None, skipped)
