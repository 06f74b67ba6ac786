"""Latency histograms the storage fills once per batch write, read at scrape time.

They live on the storage object (no global registry), so the storage layer needs nothing
from `prometheus_client`: one `bisect` and two additions per transaction.
"""

from __future__ import annotations

from bisect import bisect_left

WRITE_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds in seconds: a small SQLite batch takes about a millisecond, a stalled
PostgreSQL write up to its timeout."""


class Histogram:
    """Counts per bucket (the last one past every bound), not cumulative, plus the sum."""

    __slots__ = ("counts", "sum")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)
        self.sum = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)


class WriteTimings:
    """Successful batch write durations per kind (`trade insert`, `candle upsert`, ...)."""

    def __init__(self, bounds: tuple[float, ...] = WRITE_BUCKETS) -> None:
        self.bounds = bounds
        self.kinds: dict[str, Histogram] = {}

    def observe(self, kind: str, seconds: float) -> None:
        histogram = self.kinds.get(kind)
        if histogram is None:
            histogram = self.kinds[kind] = Histogram(len(self.bounds))
        histogram.counts[bisect_left(self.bounds, seconds)] += 1
        histogram.sum += seconds

    def cumulative(self, kind: str) -> list[tuple[str, int]]:
        """(`le`, count at or below it) per bound then `+Inf`, as Prometheus histograms want."""
        histogram = self.kinds[kind]
        total = 0
        out: list[tuple[str, int]] = []
        for bound, count in zip([*map(repr, self.bounds), "+Inf"], histogram.counts, strict=True):
            total += count
            out.append((bound, total))
        return out
