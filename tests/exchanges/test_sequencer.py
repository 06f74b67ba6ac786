"""Sequencer: each symbol's trades once, in id order, without holes, whatever the stream does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoviz.exchanges.sequencer import Sequencer
from cryptoviz.models import Trade


def t(trade_id: int) -> Trade:
    return Trade("binance", "BTCUSDT", trade_id, Decimal("1.5"), Decimal(1), 1_700_000_000_000, False)


def ids(trades: list[Trade]) -> list[int]:
    return [trade.trade_id for trade in trades]


def live(seq: Sequencer, *trade_ids: int) -> tuple[list[int], list[bool]]:
    out: list[Trade] = []
    starts = [seq.on_live(t(i), out) for i in trade_ids]
    return ids(out), starts


def test_live_trades_pass_in_order_and_repeats_are_dropped() -> None:
    seq = Sequencer("BTCUSDT", None, max_held=10)
    assert live(seq, 5, 6, 7, 6, 7, 8) == ([5, 6, 7, 8], [False] * 6)
    assert (seq.last_id, seq.overlap, seq.repairing) == (8, 2, False)


def test_a_hole_in_the_live_stream_starts_a_repair_and_holds() -> None:
    seq = Sequencer("BTCUSDT", 10, max_held=10)
    assert live(seq, 11, 14, 15) == ([11], [False, True, False])
    assert seq.repairing
    assert seq.target() == 14
    assert seq.gaps == 1
    out: list[Trade] = []
    following = seq.on_repaired([t(i) for i in range(11, 16)], out, 15)  # overlaps on both sides
    assert ids(out) == [12, 13]
    assert following == 14  # not past the first held id
    seq.finish(out)
    assert ids(out) == [12, 13, 14, 15]
    assert (seq.last_id, seq.repairing) == (15, False)
    assert live(seq, 16) == ([16], [False])


def test_nothing_to_repair_without_a_known_last_id() -> None:
    seq = Sequencer("BTCUSDT", None, max_held=10)
    assert not seq.reconnected()
    assert live(seq, 100) == ([100], [False])


def test_reconnect_repairs_from_the_last_id() -> None:
    seq = Sequencer("BTCUSDT", 10, max_held=10)
    assert seq.reconnected()
    assert not seq.reconnected()  # one repair at a time: the pending one picks up from last_id
    seq.repair_started = True
    assert live(seq, 20, 21) == ([], [False, False])
    out: list[Trade] = []
    assert seq.on_repaired([t(i) for i in range(11, 20)], out, 19) == 20
    seq.finish(out)
    assert ids(out) == list(range(11, 22))


def test_a_stream_that_resumes_where_it_stopped_needs_no_repair() -> None:
    seq = Sequencer("BTCUSDT", 10, max_held=10)
    assert seq.reconnected()
    assert live(seq, 11, 12) == ([11, 12], [False, False])
    assert not seq.repairing  # the pending repair will find nothing to do


def test_resuming_does_not_cancel_a_repair_already_asking_rest() -> None:
    seq = Sequencer("BTCUSDT", 10, max_held=10)
    seq.reconnected()
    seq.repair_started = True
    assert live(seq, 11) == ([], [False])
    assert seq.repairing
    assert seq.target() == 11
    out: list[Trade] = []
    seq.finish(out)
    assert ids(out) == [11]


def test_a_full_hold_drops_its_oldest_and_the_repair_reaches_further() -> None:
    seq = Sequencer("BTCUSDT", 10, max_held=3)
    seq.reconnected()
    seq.repair_started = True
    live(seq, 20, 21, 22, 23, 24)
    assert ids(list(seq.held)) == [22, 23, 24]
    assert (seq.held_dropped, seq.target()) == (2, 22)
    out: list[Trade] = []
    seq.on_repaired([t(i) for i in range(11, 23)], out, 22)
    seq.finish(out)
    assert ids(out) == list(range(11, 25))


def test_another_hole_while_holding_restarts_the_hold() -> None:
    seq = Sequencer("BTCUSDT", 10, max_held=10)
    seq.reconnected()
    seq.repair_started = True
    live(seq, 20, 21, 25, 26, 25)
    assert ids(list(seq.held)) == [25, 26]
    assert (seq.held_dropped, seq.overlap) == (2, 1)


def test_paging_moves_past_unusable_records_but_not_past_the_hold() -> None:
    seq = Sequencer("BTCUSDT", 10, max_held=10)
    assert seq.on_repaired([], [], None) == 11
    assert seq.on_repaired([t(12)], [], 14) == 15  # 11, 13 and 14 were unusable
    live(seq, 20)
    assert seq.on_repaired([], [], 25) == 20


def test_a_repair_given_up_releases_the_hold_and_counts_the_hole() -> None:
    seq = Sequencer("BTCUSDT", 10, max_held=10)
    live(seq, 15)
    out: list[Trade] = []
    seq.finish(out, repaired=False)
    assert ids(out) == [15]
    assert (seq.unrepaired, seq.repairing) == (1, False)


def test_discarding_the_hold_at_stop() -> None:
    seq = Sequencer("BTCUSDT", 10, max_held=10)
    live(seq, 15, 16)
    assert seq.discard_held() == 2
    assert seq.last_id == 10  # the next start repairs from here


def test_max_held_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_held"):
        Sequencer("BTCUSDT", None, max_held=0)


class _Repair:
    """The collector's repair loop, one REST page per step (see plugins/binance.py)."""

    def __init__(self, page: int) -> None:
        self.page = page
        self.active = False
        self.next_id = 0

    def step(self, seq: Sequencer, head: int, out: list[Trade]) -> None:
        if not self.active:
            if not seq.repairing:
                return
            assert seq.last_id is not None
            self.active, seq.repair_started, self.next_id = True, True, seq.last_id + 1
        target = seq.target()
        if target is not None and self.next_id >= target:
            self._finish(seq, out)
            return
        fetched = list(range(self.next_id, min(self.next_id + self.page - 1, head) + 1))
        self.next_id = seq.on_repaired([t(i) for i in fetched], out, fetched[-1] if fetched else None)
        if len(fetched) < self.page and seq.target() is None:
            self._finish(seq, out)

    def _finish(self, seq: Sequencer, out: list[Trade]) -> None:
        seq.finish(out)
        self.active = False


OPS = st.lists(
    st.sampled_from(["trade", "trade", "trade", "lose", "drop", "reconnect", "repair"]), max_size=300
)


@settings(max_examples=300, deadline=None)
@given(
    ops=OPS,
    stored=st.one_of(st.none(), st.integers(0, 20)),
    max_held=st.integers(1, 8),
    page=st.integers(1, 7),
)
def test_whatever_the_stream_does_the_output_is_every_id_once_in_order(
    ops: list[str], stored: int | None, max_held: int, page: int
) -> None:
    """The exchange publishes ids 1, 2, ...; the stream loses some, drops and reconnects;
    REST serves every published id. What the sequencer hands out is contiguous at every
    step, and complete once the stream is back and the repair is done."""
    seq = Sequencer("BTCUSDT", stored, max_held)
    repair = _Repair(page)
    head = stored or 0
    connected = True
    out: list[Trade] = []
    for op in ops:
        if op in ("trade", "lose"):
            head += 1
            if op == "trade" and connected:
                seq.on_live(t(head), out)
        elif op == "drop":
            connected = False
        elif op == "reconnect" and not connected:
            connected = True
            seq.reconnected()
        elif op == "repair":
            repair.step(seq, head, out)
        _check_contiguous(ids(out), stored)
    if not connected:
        seq.reconnected()
    for _ in range(3):  # the stream goes on after the repair
        head += 1
        seq.on_live(t(head), out)
    for _ in range(10_000):
        if not seq.repairing:
            break
        repair.step(seq, head, out)
    assert not seq.repairing
    first = stored + 1 if stored is not None else (out[0].trade_id if out else head)
    assert ids(out) == list(range(first, head + 1))


def _check_contiguous(handed: list[int], stored: int | None) -> None:
    if handed:
        start = stored + 1 if stored is not None else handed[0]
        assert handed == list(range(start, start + len(handed)))
