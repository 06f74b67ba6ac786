"""The appliance's metrics, read from the running parts when Prometheus scrapes.

Nothing here is counted on the hot path: the hub, the dedup, the plugins and the bus
already keep counters for `/ws/stats` and `/ready`; this collector turns them into metric
families. The only per-scrape I/O is one read of the `symbols` table (newest trade per
symbol, for the lag), made by `refresh` before the registry collects.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from cryptoviz import __version__
from cryptoviz.models import SymbolInfo
from cryptoviz.observability.ingest import CountingBus, TradeCounts
from cryptoviz.observability.timings import WriteTimings
from cryptoviz.runtime import Runtime

log = logging.getLogger(__name__)
WRITER_OUTCOMES = ("received", "duplicates", "stored", "rejected")
HUB_COUNTERS = {
    "total_connections": ("ws_connections", "WebSocket connections accepted."),
    "rejected_connections": (
        "ws_connections_rejected",
        "WebSocket connections refused (hub full or closing).",
    ),
    "messages_broadcast": ("ws_messages_broadcast", "Data messages fanned out to at least one client."),
    "messages_delivered": ("ws_messages_delivered", "Frames written to WebSocket clients."),
    "dropped_trades": ("ws_dropped_trades", "Trades dropped from full client buffers."),
    "coalesced_candles": ("ws_coalesced_candles", "Candle updates coalesced in full client buffers."),
    "dropped_messages": ("ws_dropped_messages", "Other messages lost to full client buffers."),
    "slow_clients_closed": (
        "ws_slow_clients_closed",
        "Clients closed for staying full past the write timeout.",
    ),
    "read_timeouts": ("ws_read_timeouts", "Clients closed for sending nothing past the read timeout."),
}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _name(short: str) -> str:
    return f"cryptoviz_{short}"


class RuntimeCollector(Collector):
    def __init__(self, runtime: Runtime, bus: CountingBus | None) -> None:
        self.runtime = runtime
        self.bus = bus
        self.symbols: list[SymbolInfo] | None = None
        """Newest stored trade per symbol, from the last `refresh`; None when storage failed."""

    async def refresh(self) -> None:
        try:
            self.symbols = await self.runtime.storage.symbols()
        except Exception as exc:  # a scrape reports what it can; /ready says why storage fails
            log.debug("metrics: storage symbols unavailable: %s", exc)
            self.symbols = None

    def collect(self) -> Iterator[Metric]:
        runtime = self.runtime
        yield from self._process()
        if self.bus is not None:
            yield _pairs(
                "trades_published", "Trades the collectors published on the bus.", self.bus.published
            )
            yield _pairs("trades_received", "Trades the trades handler read from the bus.", self.bus.received)
        yield from self._lag()
        statuses = {name: instance.status() for name, instance in runtime.instances.items()}
        yield from _plugins(statuses)
        yield from self._bus()
        yield from _hub(runtime.hub.snapshot_stats(), runtime.hub.buffered())
        yield from _dedup(runtime.dedup.status())
        timings = getattr(runtime.storage, "write_timings", None)
        if isinstance(timings, WriteTimings):
            yield _histogram(timings, runtime.config.storage.backend)

    def _process(self) -> Iterator[Metric]:
        runtime = self.runtime
        info = GaugeMetricFamily(
            _name("info"),
            "Version and backends of this instance.",
            labels=["version", "storage", "bus", "dedup"],
        )
        config = runtime.config
        info.add_metric([__version__, config.storage.backend, config.bus.backend, config.dedup.backend], 1)
        yield info
        uptime = time.monotonic() - runtime.started_at if runtime.running else 0.0
        yield GaugeMetricFamily(_name("uptime_seconds"), "Seconds since the runtime started.", value=uptime)

    def _lag(self) -> Iterator[Metric]:
        if self.symbols is None:
            return
        age = GaugeMetricFamily(
            _name("trade_age_seconds"),
            "Now minus the trade time of the newest stored trade, per symbol.",
            labels=["exchange", "symbol"],
        )
        now = time.time()
        for info in self.symbols:
            age.add_metric([info.exchange, info.symbol], now - info.last_trade / 1000)
        yield age

    def _bus(self) -> Iterator[Metric]:
        depths = self.runtime.bus.depths()
        if self.runtime.config.bus.backend == "kafka":
            family = GaugeMetricFamily(
                _name("kafka_consumer_lag_messages"),
                "Messages behind per subscription: partition high watermarks minus committed offsets.",
                labels=["subscription"],
            )
        else:
            family = GaugeMetricFamily(
                _name("bus_queue_batches"),
                "Batches waiting in each subscription's queue of the in-memory bus.",
                labels=["subscription"],
            )
        for subscription, depth in sorted(depths.items()):
            family.add_metric([subscription], depth)
        yield family


def _pairs(short: str, doc: str, counts: TradeCounts) -> Metric:
    family = CounterMetricFamily(_name(short), doc, labels=["exchange", "symbol"])
    for (exchange, symbol), count in sorted(counts.pairs.items()):
        family.add_metric([exchange, symbol], count)
    return family


def _plugins(statuses: Mapping[str, Mapping[str, Any]]) -> Iterator[Metric]:
    ok = GaugeMetricFamily(_name("plugin_ok"), "1 when the plugin reports itself working.", labels=["plugin"])
    published = CounterMetricFamily(
        _name("plugin_published"), "Messages the plugin published on the bus.", labels=["plugin"]
    )
    pending = GaugeMetricFamily(
        _name("plugin_pending"),
        "Items held by the plugin, waiting for a write or a publish.",
        labels=["plugin"],
    )
    items = CounterMetricFamily(
        _name("handler_items"),
        "Items a storing handler read, found repeated, stored or had refused.",
        labels=["plugin", "outcome"],
    )
    for name, status in sorted(statuses.items()):
        if isinstance(status.get("ok"), bool):
            ok.add_metric([name], 1 if status["ok"] else 0)
        if (count := _int(status.get("published"))) is not None:
            published.add_metric([name], count)
        if (waiting := _int(status.get("pending"))) is not None:
            pending.add_metric([name], waiting)
        outcomes = {key: _int(status.get(key)) for key in WRITER_OUTCOMES}
        for outcome, value in outcomes.items():
            if value is not None and None not in outcomes.values():  # trades, news: all four
                items.add_metric([name, outcome], value)
    yield from (ok, published, pending, items)


def _hub(stats: Mapping[str, Any], buffered: int) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        _name("ws_active_connections"), "WebSocket clients connected now.", value=stats["active_connections"]
    )
    yield GaugeMetricFamily(
        _name("ws_buffered_messages"), "Messages waiting in all client send buffers.", value=buffered
    )
    for key, (short, doc) in HUB_COUNTERS.items():
        value = _int(stats.get(key))
        if value is not None:
            yield CounterMetricFamily(_name(short), doc, value=value)


def _dedup(status: Mapping[str, object]) -> Iterator[Metric]:
    backend = str(status.get("backend", ""))
    for key, doc in (
        ("hits", "Keys the dedup had seen: repeats filtered before the storage."),
        ("misses", "Keys the dedup had not seen."),
        ("fallbacks", "Calls answered by the local cache while Redis was away."),
    ):
        if (value := _int(status.get(key))) is not None:
            yield _labelled_counter(f"dedup_{key}", doc, backend, value)
    entries = _int(status.get("entries", status.get("local_entries")))
    if entries is not None:
        family = GaugeMetricFamily(
            _name("dedup_entries"), "Keys held in the in-process cache.", labels=["backend"]
        )
        family.add_metric([backend], entries)
        yield family
    degraded = GaugeMetricFamily(
        _name("dedup_degraded"), "1 while the dedup runs on its local fallback.", labels=["backend"]
    )
    degraded.add_metric([backend], 1 if status.get("degraded") else 0)
    yield degraded


def _labelled_counter(short: str, doc: str, backend: str, value: int) -> Metric:
    family = CounterMetricFamily(_name(short), doc, labels=["backend"])
    family.add_metric([backend], value)
    return family


def _histogram(timings: WriteTimings, backend: str) -> Metric:
    family = HistogramMetricFamily(
        _name("storage_write_seconds"),
        "Duration of successful batch write transactions, per kind of write.",
        labels=["backend", "kind"],
    )
    for kind in sorted(timings.kinds):
        family.add_metric([backend, kind], timings.cumulative(kind), timings.kinds[kind].sum)
    return family
