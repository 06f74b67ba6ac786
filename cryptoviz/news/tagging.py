"""Symbols an article is about, from a configurable keyword map.

`{"BTCUSDT": ["bitcoin", "btc"]}` tags every item whose title or summary names one of
the keywords as a whole word, in any case: "Bitcoin's rally" and "$BTC" count,
"bitcoiner" does not. CryptoPanic also lists currency codes; a code that equals a
keyword counts the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

MAX_SYMBOLS_PER_ITEM: Final = 20


class KeywordTagger:
    """Compiled once from the map; `tag` is then one regex scan per text."""

    def __init__(self, keywords: Mapping[str, Sequence[str]]) -> None:
        self._symbols: dict[str, set[str]] = {}
        for symbol, words in keywords.items():
            for word in words:
                key = word.strip().casefold()
                if key:
                    self._symbols.setdefault(key, set()).add(symbol)
        # Longest first, so "ether" is not hidden by a shorter alternative that also matches.
        alternatives = sorted(self._symbols, key=lambda k: (-len(k), k))
        self._pattern: re.Pattern[str] | None = (
            re.compile(r"(?<!\w)(" + "|".join(map(re.escape, alternatives)) + r")(?!\w)", re.IGNORECASE)
            if alternatives
            else None
        )

    def tag(self, texts: Iterable[str], codes: Iterable[str] = ()) -> list[str]:
        """Sorted symbols named in `texts` or by `codes`, at most `MAX_SYMBOLS_PER_ITEM`."""
        found: set[str] = set()
        for code in codes:
            found |= self._symbols.get(code.strip().casefold(), set())
        if self._pattern is not None:
            for text in texts:
                for match in self._pattern.finditer(text):
                    found |= self._symbols.get(match.group(1).casefold(), set())
        return sorted(found)[:MAX_SYMBOLS_PER_ITEM]
