"""The dedup seam: has this key been stored recently?"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol


class Dedup(Protocol):
    """A bounded, expiring set of keys already stored. It is a fast first filter: storage
    unique keys remain the final word, so a key forgotten (evicted, expired, restarted) is
    safe. Asking and marking are two steps on purpose: a consumer asks before it writes and
    marks only after the write succeeded, so a crash in between leaves the key unmarked and
    the bus's redelivery is stored, not dropped as a repeat."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def seen(self, keys: Sequence[Hashable]) -> list[bool]:
        """For each key, whether it was marked (and has not expired); marks nothing."""

    async def mark(self, keys: Sequence[Hashable]) -> None:
        """Record the keys as stored. Never raises for a backend that is away."""

    def status(self) -> dict[str, object]:
        """Backend name, size, hit counts; `degraded` true when running on a fallback."""
