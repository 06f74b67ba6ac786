"""Per-symbol time spans of a trade batch: what the `symbols` table's upsert needs."""

from __future__ import annotations

from collections.abc import Iterable

from cryptoviz.models import Trade


def symbol_spans(trades: Iterable[Trade]) -> list[tuple[str, str, int, int]]:
    """(exchange, symbol, first trade time, last trade time) per pair, sorted by pair, so
    concurrent writers touch the rows in one order."""
    spans: dict[tuple[str, str], list[int]] = {}
    for t in trades:
        span = spans.get((t.exchange, t.symbol))
        if span is None:
            spans[(t.exchange, t.symbol)] = [t.time, t.time]
        elif t.time < span[0]:
            span[0] = t.time
        elif t.time > span[1]:
            span[1] = t.time
    return [(ex, sym, lo, hi) for (ex, sym), (lo, hi) in sorted(spans.items())]
