"""Each symbol's trades once, in id order and without holes, across reconnects and repairs.

Binance trade ids (and aggregate trade ids) are contiguous per symbol, so a skipped id is
a gap and an id at or below the last one handed out is overlap. The candle aggregator
skips ids at or below what it has counted, so an older trade published after a newer one
would never reach the candles. Hence the rule: while a symbol's gap is being repaired
over REST, its live trades are held (bounded), and they are released only once the
repair has published everything before them.

Pure code with no I/O: the collector feeds it stream trades and REST pages and publishes
what it hands back, in that order, with no await in between.
"""

from __future__ import annotations

from collections import deque

from cryptoviz.models import Trade


class Sequencer:
    """One symbol's trade stream made gapless.

    `last_id` is the newest id handed out for publishing (from storage at start, None when
    the symbol has none). While `repairing`, stream trades go to `held`, which stays
    contiguous: a new hole in the stream restarts it after the hole, and when it is full
    its oldest trades are dropped. Either way the repair fetches what was let go, because
    it pages over REST up to the first held id, whatever that is by then.
    """

    __slots__ = (
        "gaps",
        "held",
        "held_dropped",
        "last_id",
        "max_held",
        "overlap",
        "repair_started",
        "repairing",
        "symbol",
        "unrepaired",
    )

    def __init__(self, symbol: str, last_id: int | None, max_held: int) -> None:
        if max_held < 1:
            raise ValueError("max_held must be at least 1")
        self.symbol = symbol
        self.last_id = last_id
        self.max_held = max_held
        self.repairing = False
        self.repair_started = False
        """False while a repair is wanted but has not asked REST anything yet."""
        self.held: deque[Trade] = deque()
        self.gaps = 0
        """Holes seen in the stream while it was live (reconnects not included)."""
        self.held_dropped = 0
        """Held trades let go (hold full, or a new hole): the repair fetches them instead."""
        self.overlap = 0
        """Trades dropped because their id was already handed out."""
        self.unrepaired = 0
        """Repairs given up (REST refused the request): ids that may be missing for good."""

    def reconnected(self) -> bool:
        """The stream (re)started, so trades may have been missed: True when a repair must be
        started. Nothing to repair for a symbol with no known last id, nor when a repair
        is already under way or pending (it picks up from `last_id`)."""
        if self.last_id is None or self.repairing:
            return False
        self.repairing = True
        self.repair_started = False
        return True

    def on_live(self, trade: Trade, out: list[Trade]) -> bool:
        """A stream trade: appends to `out` what may be published now. True when a repair
        must be started (the stream skipped ids while live)."""
        tid = trade.trade_id
        last = self.last_id
        if not self.repairing:
            if last is None or tid == last + 1:
                self.last_id = tid
                out.append(trade)
                return False
            if tid <= last:
                self.overlap += 1
                return False
            self.gaps += 1
            self.repairing = True
            self.repair_started = False
            self.held.append(trade)
            return True
        if last is not None and tid <= last:
            self.overlap += 1
            return False
        held = self.held
        if held:
            newest = held[-1].trade_id
            if tid <= newest:
                self.overlap += 1
                return False
            if tid != newest + 1:  # another hole: keep the hold contiguous, the repair covers it
                self.held_dropped += len(held)
                held.clear()
        elif not self.repair_started and last is not None and tid == last + 1:
            # The stream resumed exactly where it stopped: nothing was missed, and the
            # pending repair will find nothing to do.
            self.repairing = False
            self.last_id = tid
            out.append(trade)
            return False
        held.append(trade)
        if len(held) > self.max_held:
            held.popleft()
            self.held_dropped += 1
        return False

    def target(self) -> int | None:
        """Where the repair may stop: the first held id, or None when nothing is held (then
        it pages until REST has nothing newer)."""
        return self.held[0].trade_id if self.held else None

    def on_repaired(self, trades: list[Trade], out: list[Trade], page_end: int | None) -> int:
        """A REST page, in id order, whose largest id is `page_end` (None: empty): appends to
        `out` the trades newer than `last_id` and older than the first held one (the hold
        has the rest). Returns the id to page from next: past this page, but not past the
        first held id, since the hold may still let its oldest trades go."""
        last = -1 if self.last_id is None else self.last_id
        stop = self.target()
        for trade in trades:
            tid = trade.trade_id
            if stop is not None and tid >= stop:
                break
            if tid > last:
                out.append(trade)
                last = tid
            else:
                self.overlap += 1
        if out:
            self.last_id = out[-1].trade_id
        following = last + 1
        if page_end is not None:
            following = max(following, page_end + 1 if stop is None else min(page_end + 1, stop))
        return following

    def finish(self, out: list[Trade], *, repaired: bool = True) -> None:
        """End the repair: appends the held trades newer than `last_id` to `out` and goes
        live. `repaired=False` when the repair was given up: the hole stays, and is counted."""
        held = self.held
        last = -1 if self.last_id is None else self.last_id
        while held and held[0].trade_id <= last:
            held.popleft()
            self.overlap += 1
        if not repaired:
            self.unrepaired += 1
        if held:
            out.extend(held)
            self.last_id = held[-1].trade_id
            held.clear()
        self.repairing = False
        self.repair_started = False

    def discard_held(self) -> int:
        """Drop held trades (at stop: publishing them past a hole would hide the hole from the
        next start, which repairs from the last stored id). Returns how many."""
        count = len(self.held)
        self.held.clear()
        return count
