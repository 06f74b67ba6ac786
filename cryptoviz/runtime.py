"""The running appliance: backends chosen by config, plugins started and stopped in order.

Start: storage, dedup, bus, then handlers (so they subscribe before data flows), then
collectors. Stop runs the other way and drains the bus in between, so every trade a
collector published is stored before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from cryptoviz.bus.base import Bus
from cryptoviz.bus.memory import MemoryBus
from cryptoviz.config import Config
from cryptoviz.dedup.base import Dedup
from cryptoviz.dedup.memory import MemoryDedup
from cryptoviz.errors import ConfigError
from cryptoviz.hub.feed import HubFeed
from cryptoviz.hub.hub import Hub
from cryptoviz.plugin import COLLECTOR_KINDS, LoadedPlugin, PluginContext, PluginInstance
from cryptoviz.storage.base import Storage
from cryptoviz.storage.sqlite import SQLiteStorage
from cryptoviz.tasks import Supervisor
from cryptoviz.timeutil import now_ms

log = logging.getLogger(__name__)


def build_storage(config: Config) -> Storage:
    storage = config.storage
    if storage.backend == "sqlite":
        return SQLiteStorage(storage.sqlite_path)
    if storage.backend == "postgres":
        from cryptoviz.storage.postgres import PostgresStorage  # imported only when chosen

        return PostgresStorage(
            storage.postgres_dsn, pool_min=storage.postgres_pool_min, pool_max=storage.postgres_pool_max,
            timeout_seconds=storage.postgres_timeout_seconds, timescaledb=storage.postgres_timescaledb,
            trades_retention_days=storage.retention_days.get("trades", 0.0),
        )  # fmt: skip
    raise ConfigError(f"`storage.backend` = {storage.backend!r}: expected 'sqlite' or 'postgres'")


def build_dedup(config: Config) -> Dedup:
    dedup = config.dedup
    if dedup.backend == "memory":
        return MemoryDedup(dedup.max_entries, dedup.ttl_seconds)
    if dedup.backend == "redis":
        from cryptoviz.dedup.redis import RedisDedup  # imported only when chosen

        return RedisDedup(
            dedup.redis_url, ttl_seconds=dedup.ttl_seconds, max_entries=dedup.max_entries,
            prefix=dedup.redis_key_prefix, timeout_seconds=dedup.redis_timeout_seconds,
        )  # fmt: skip
    raise ConfigError(f"`dedup.backend` = {dedup.backend!r}: expected 'memory' or 'redis'")


def build_bus(config: Config) -> Bus:
    if config.bus.backend == "memory":
        return MemoryBus(config.bus.queue_batches, config.bus.max_batch)
    if config.bus.backend == "kafka":
        from cryptoviz.bus.kafka import KafkaBus  # imported only when chosen

        return KafkaBus(config.bus)
    raise ConfigError(f"`bus.backend` = {config.bus.backend!r}: expected 'memory' or 'kafka'")


class Runtime:
    def __init__(
        self, config: Config, plugins: list[LoadedPlugin], *, live: bool = True, drain_timeout: float = 30.0
    ) -> None:
        """`live=False` for batch runs: no retention and no wall-clock driven behaviour, so
        the result of a replay depends on its input alone."""
        self.config = config
        self.storage = build_storage(config)
        self.dedup = build_dedup(config)
        self.bus = build_bus(config)
        self.tasks = Supervisor()
        self.hub = Hub(config.hub)
        self.hub_feed = HubFeed(self.hub)
        self.live = live
        self.drain_timeout = drain_timeout
        self.instances: dict[str, PluginInstance] = {p.spec.name: p.create() for p in plugins}
        self._kinds = {p.spec.name: p.spec.kind for p in plugins}
        self.started_at = 0.0
        self.running = False
        self._ctx: PluginContext | None = None
        self.last_prune: dict[str, int] = {}

    def _ordered(self, collectors: bool) -> list[tuple[str, PluginInstance]]:
        return [
            (n, i) for n, i in self.instances.items() if (self._kinds[n] in COLLECTOR_KINDS) == collectors
        ]

    async def start(self) -> None:
        await self.storage.open()
        await self.dedup.start()
        await self.bus.start()
        if self.live:  # the WebSocket hub reads the bus before any collector publishes
            self.hub_feed.start(self.bus, self.tasks)
        ctx = self._ctx = PluginContext(
            self.config, self.bus, self.storage, self.dedup, self.tasks, now_ms, self.live
        )
        started: list[PluginInstance] = []
        try:
            for collectors in (False, True):
                for name, instance in self._ordered(collectors):
                    log.info("starting plugin %s", name)
                    await instance.start(ctx)
                    started.append(instance)
        except BaseException:
            for instance in reversed(started):
                await instance.stop()
            await self.hub_feed.stop()
            await self._close_backends()
            raise
        self.started_at = time.monotonic()
        self.running = True
        if self.live and any(days > 0 for days in self.config.storage.retention_days.values()):
            self.tasks.spawn(self._prune_forever(), "retention")

    async def _prune_forever(self) -> None:
        """Apply the retention every `prune_every_seconds`; a failed run is logged and retried
        at the next tick, never fatal."""
        retention: dict[str, float] = {str(k): v for k, v in self.config.storage.retention_days.items()}
        while True:
            try:
                deleted = await self.storage.prune(retention)
                if any(deleted.values()):
                    log.info("retention: deleted %s", deleted)
                self.last_prune = deleted
            except Exception:
                log.exception("retention run failed; retrying at the next one")
            await asyncio.sleep(self.config.storage.prune_every_seconds)

    async def stop(self) -> None:
        """Stop collectors, let handlers finish what was published, flush, close.

        Each step is bounded by `drain_timeout`, and the backends are closed whatever a
        plugin's stop raises, so a stuck write cannot hang the shutdown forever.
        """
        if not self.running:
            return
        self.running = False
        try:
            for name, instance in self._ordered(collectors=True):
                await self._stop_one(name, instance)
            if self._ctx is not None:
                self._ctx.draining.set()
            try:
                await asyncio.wait_for(self.bus.drain(), self.drain_timeout)
            except TimeoutError:
                log.error(
                    "bus did not drain within %.0fs; pending: %s", self.drain_timeout, self.bus.depths()
                )
            for name, instance in reversed(self._ordered(collectors=False)):
                await self._stop_one(name, instance)
            await self.hub_feed.stop()
        finally:
            await self.tasks.cancel_all()
            await self._close_backends()

    async def _stop_one(self, name: str, instance: PluginInstance) -> None:
        log.info("stopping plugin %s", name)
        try:
            await asyncio.wait_for(instance.stop(), self.drain_timeout)
        except TimeoutError:
            log.error("plugin %s did not stop within %.0fs: what it held is lost", name, self.drain_timeout)
        except Exception:
            log.exception("plugin %s failed to stop cleanly", name)

    async def _close_backends(self) -> None:
        await self.bus.stop()
        await self.dedup.stop()
        await self.storage.close()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Each part's state; not ready when any part fails."""
        details: dict[str, Any] = {}
        ok = self.running
        try:
            await self.storage.ping()
            details["storage"] = {"ok": True, "backend": self.config.storage.backend}
        except Exception as exc:
            ok = False
            details["storage"] = {"ok": False, "error": str(exc)}
        dedup = self.dedup.status()
        details["dedup"] = {"ok": True, "state": "degraded" if dedup.get("degraded") else "ok", **dedup}
        details["bus"] = {"ok": self.running, "backend": self.config.bus.backend, "queues": self.bus.depths()}
        plugins: dict[str, Any] = {}
        for name, instance in self.instances.items():
            status = instance.status()
            plugins[name] = status
            if status.get("ok") is False:
                ok = False
        details["plugins"] = plugins
        if self.tasks.crashes:
            ok = False
            details["tasks"] = {"ok": False, "crashed": self.tasks.crashes}
        return ok, details
