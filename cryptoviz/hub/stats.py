"""The hub's counters, as `/ws/stats` reports them.

Per-delivery counts live on each client (one integer add per send) and are summed when
asked, plus what departed clients had counted, so the hot path touches no shared state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptoviz.hub.client import Client


class HubStats:
    def __init__(self) -> None:
        self.total_connections = 0
        self.rejected = 0
        self.broadcast = 0
        """Data messages fanned out to at least one client."""
        self.last_broadcast_time: int | None = None
        self.slow_closed = 0
        self.read_timeouts = 0
        self._sent = 0
        self._dropped_trades = 0
        self._coalesced = 0
        self._dropped = 0

    def retire(self, client: Client) -> None:
        """Keep a departing client's counts in the totals."""
        self._sent += client.sent
        self._dropped_trades += client.dropped_trades
        self._coalesced += client.coalesced
        self._dropped += client.dropped

    def snapshot(self, clients: Iterable[Client]) -> dict[str, Any]:
        active = sent = dropped_trades = coalesced = dropped = 0
        for client in clients:
            active += 1
            sent += client.sent
            dropped_trades += client.dropped_trades
            coalesced += client.coalesced
            dropped += client.dropped
        return {
            "total_connections": self.total_connections,
            "active_connections": active,
            "messages_broadcast": self.broadcast,
            "messages_delivered": self._sent + sent,
            "last_broadcast_time": self.last_broadcast_time,
            "dropped_trades": self._dropped_trades + dropped_trades,
            "coalesced_candles": self._coalesced + coalesced,
            "dropped_messages": self._dropped + dropped,
            "slow_clients_closed": self.slow_closed,
            "read_timeouts": self.read_timeouts,
            "rejected_connections": self.rejected,
        }
