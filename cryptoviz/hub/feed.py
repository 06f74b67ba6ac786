"""Bus -> hub: the hub reads the same topics as any consumer, in a consumer group of its own.

Each API instance gets a group of its own (`hub-<random>`; the Kafka bus prefixes it with
`<bus.group_id>.`), so every instance sees every message, on the memory bus as on Kafka,
where a new group starts at the time it subscribed. Handling a batch only numbers the
messages and appends them to bounded client buffers, so the hub never holds the pipeline
back for a slow client. Trades come raw from the collectors: each (exchange, symbol)
trade id is forwarded once, and ids at or below the last one forwarded are dropped, which
absorbs the repeats a collector sends after reconnecting.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from cryptoviz.bus.base import Bus, Subscription
from cryptoviz.errors import BusClosed
from cryptoviz.hub.hub import Hub
from cryptoviz.models import (
    INDICATOR_TYPES,
    INTERVALS,
    TOPIC_NEWS,
    TOPIC_RAW_TRADES,
    Candle,
    IndicatorPoint,
    NewsItem,
    Trade,
    candle_topic,
    indicator_topic,
)
from cryptoviz.tasks import Supervisor, cancel_and_wait

log = logging.getLogger(__name__)
CHUNK = 64
"""Messages fanned out between two yields to the event loop, so send completions run meanwhile."""


class HubFeed:
    """Consumes the trades, candles, indicators and news topics into the hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.group = f"hub-{uuid.uuid4().hex[:12]}"
        self.last_ids: dict[tuple[str, str], int] = {}
        self.repeated_trades = 0
        self._subs: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, bus: Bus, tasks: Supervisor) -> None:
        """Subscribe now (before any collector publishes) and spawn the consumers and upkeep."""
        routes: list[tuple[Sequence[str], type[Any], Callable[[list[Any]], None]]] = [
            ([TOPIC_RAW_TRADES], Trade, self._trades),
            ([candle_topic(i) for i in INTERVALS], Candle, self.hub.publish_candles),
            ([indicator_topic(k) for k in INDICATOR_TYPES], IndicatorPoint, self.hub.publish_indicators),
            ([TOPIC_NEWS], NewsItem, self.hub.publish_news),
        ]
        for topics, kind, handle in routes:
            sub = bus.subscribe(topics, self.group, kind)
            self._subs.append(sub)
            self._tasks.append(tasks.spawn(self._consume(sub, handle), f"hub-feed-{kind.__name__.lower()}"))
        self._tasks.append(tasks.spawn(self.hub.run_upkeep(), "hub-upkeep"))

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        for sub in self._subs:
            await sub.close()
        self._tasks.clear()
        self._subs.clear()

    def running(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def _consume(self, sub: Subscription, handle: Callable[[list[Any]], None]) -> None:
        while True:
            try:
                _, batch = await sub.get()
            except BusClosed:
                return
            for start in range(0, len(batch), CHUNK):
                try:
                    handle(batch[start : start + CHUNK])
                except Exception:
                    log.exception("hub: a batch could not be fanned out; skipped")
                await asyncio.sleep(0)
            await sub.commit()

    def _trades(self, trades: list[Trade]) -> None:
        last_ids = self.last_ids
        fresh: list[Trade] = []
        for trade in trades:
            key = (trade.exchange, trade.symbol)
            last = last_ids.get(key)
            if last is None or trade.trade_id > last:
                last_ids[key] = trade.trade_id
                fresh.append(trade)
        self.repeated_trades += len(trades) - len(fresh)
        if fresh:
            self.hub.publish_trades(fresh)
