"""Plain text from the HTML that feeds put in titles and summaries, cut to a bounded length.

The dashboard shows these fields as text, so markup, scripts and styles are dropped and
entities decoded here, once, rather than trusted downstream.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Final

_SPACES: Final = re.compile(r"\s+")
_SKIPPED: Final = frozenset({"script", "style", "template", "noscript"})
_BLOCKS: Final = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"})


class _TextCollector(HTMLParser):
    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self._skipping:
            self._skipping -= 1
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping and self.size < self.limit:
            kept = data[: self.limit - self.size]
            self.parts.append(kept)
            self.size += len(kept)


def strip_html(text: str, limit: int = 100_000) -> str:
    """Text content of an HTML fragment with whitespace (Unicode spaces included) collapsed; at
    most `limit` characters are collected, so a huge field costs little more than a small one."""
    head = text[: limit * 4]
    if "<" not in head and "&" not in head:
        return _SPACES.sub(" ", head).strip()[:limit]
    collector = _TextCollector(limit)
    collector.feed(head)
    collector.close()
    return _SPACES.sub(" ", "".join(collector.parts)).strip()[:limit]


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when one is near, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if not text[limit - 1].isspace() and space >= limit * 3 // 4:
        cut = cut[:space]
    return cut.rstrip() + "…"
