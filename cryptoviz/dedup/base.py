"""The dedup seam: has this key been seen recently?"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol


class Dedup(Protocol):
    """A bounded, expiring set of keys. It is a fast first filter: storage unique keys
    remain the final word, so a key forgotten (evicted, expired, restarted) is safe."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def check_and_mark(self, keys: Sequence[Hashable]) -> list[bool]:
        """For each key, whether it had been seen; marks all of them as seen."""

    def status(self) -> dict[str, object]:
        """Backend name, size, hit counts; `degraded` true when running on a fallback."""
