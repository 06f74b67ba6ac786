"""In-memory dedup: a cachetools FIFO cache of first-seen times, bounded in entries and age.

`TTLCache` keeps a timer list in pure Python (2.5 µs per key measured here); a FIFO cache
holding the first-seen time and checking it on lookup has the same guarantees (at most
`max_entries` keys, none honoured past `ttl_seconds`) for 0.7 µs per key.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence

from cachetools import FIFOCache


class MemoryDedup:
    def __init__(self, max_entries: int, ttl_seconds: float) -> None:
        self._cache: FIFOCache[Hashable, float] = FIFOCache(max_entries)
        self._ttl = ttl_seconds
        self.hits = 0
        self.misses = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._cache.clear()

    async def seen(self, keys: Sequence[Hashable]) -> list[bool]:
        seen = self.lookup(keys)
        hits = seen.count(True)
        self.hits += hits
        self.misses += len(seen) - hits
        return seen

    def lookup(self, keys: Sequence[Hashable]) -> list[bool]:
        """`seen` without counting: for a backend that uses this cache as its fallback."""
        get = self._cache.get
        oldest = time.monotonic() - self._ttl
        return [(marked := get(key)) is not None and marked > oldest for key in keys]

    async def mark(self, keys: Sequence[Hashable]) -> None:
        self.remember(keys)

    def remember(self, keys: Sequence[Hashable]) -> None:
        """Mark the keys as stored now: a key marked again is kept `ttl_seconds` from now."""
        cache = self._cache
        now = time.monotonic()
        for key in keys:
            cache[key] = now

    def status(self) -> dict[str, object]:
        return {
            "backend": "memory",
            "degraded": False,
            "entries": len(self._cache),
            "max_entries": int(self._cache.maxsize),
            "hits": self.hits,
            "misses": self.misses,
        }
