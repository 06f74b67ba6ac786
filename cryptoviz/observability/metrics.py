"""One registry per app: the runtime collector plus the process basics (RSS, CPU, open files).

`prometheus_client` renders the exposition format (escaping, `# HELP`/`# TYPE`, `_total`,
histogram buckets) and its parser is what the tests check against, so a hand-written
renderer would have to be tested against it anyway. It is pure Python with no
dependencies, and only its custom-collector and rendering parts are used: every value is
read from the appliance's own counters at scrape time, none lives in a global registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from cryptoviz.observability.collector import RuntimeCollector
from cryptoviz.observability.ingest import CountingBus
from cryptoviz.runtime import Runtime

CONTENT_TYPE = "text/plain; version=0.0.4"
"""The format every Prometheus server reads; Litestar adds `; charset=utf-8`."""


class Metrics:
    """The metrics of one app instance. `instrument` must run before the runtime starts."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.bus: CountingBus | None = None
        self.collector = RuntimeCollector(runtime, None)
        self.registry = CollectorRegistry()
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)

    def instrument(self) -> None:
        """Count trades per (exchange, symbol) on the runtime's bus (see `ingest`)."""
        if self.bus is None:
            self.bus = self.collector.bus = CountingBus(self.runtime.bus)
            self.runtime.bus = self.bus

    async def render(self) -> bytes:
        await self.collector.refresh()
        return generate_latest(self.registry)
