"""The one module that talks to asyncpg, which ships no type stubs: a connection pool with
typed calls, and asyncpg's errors turned into the product's.

A failure that waiting can fix (connection lost, server shutting down or starting up,
too many connections, a deadlock, a timeout) becomes `StorageUnavailable`, so the
handlers keep their batch and retry it; anything else (a value the schema refuses)
becomes `StorageError`. After PostgreSQL restarts, each dead connection of the pool fails
once and the pool opens a fresh one on the next acquire.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from cryptoviz.errors import CryptovizError, StorageError, StorageUnavailable
from cryptoviz.observability.timings import WriteTimings
from cryptoviz.secrets import redacted
from cryptoviz.tasks import backoff_delays

log = logging.getLogger(__name__)
Row = Sequence[Any]
RETRIABLE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
"""SQLSTATE classes waiting can fix: connection, rollback (deadlock, serialization),
insufficient resources, operator intervention (shutdown, startup, cancel), system error."""
NOT_RETRIABLE = frozenset({"57P04"})  # the database was dropped


def is_transient(exc: BaseException) -> bool:
    """Whether the same operation can succeed later, once the server is back."""
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return state[:2] in RETRIABLE_CLASSES and state not in NOT_RETRIABLE
    if isinstance(exc, asyncpg.DataError | asyncpg.exceptions.ClientConfigurationError):
        return False
    return isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError | OSError | TimeoutError)


def mapped(exc: BaseException, what: str) -> StorageError:
    """`exc` as the product's error: retriable when waiting can fix it."""
    kind = StorageUnavailable if is_transient(exc) else StorageError
    return kind(f"PostgreSQL {what} failed: {type(exc).__name__}: {exc}")


def _rows_changed(status: str) -> int:
    """Rows a command reported ("INSERT 0 12", "DELETE 3"); 0 when it reports none."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PgConnection:
    """One pooled connection, typed; errors come out as asyncpg's (the pool maps them)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; the rows it changed."""
        return _rows_changed(str(await self._raw.execute(sql, *args)))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._raw.fetch(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._raw.fetchval(sql, *args)


class PgPool:
    """An asyncpg pool opened with retries, whose calls raise only StorageError kinds."""

    def __init__(self, dsn: str, *, min_size: int, max_size: int, timeout: float) -> None:
        self.dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = timeout
        self._pool: Any = None
        self.write_timings = WriteTimings()
        """Durations of the committed transactions, per `what`, for /metrics."""

    async def open(self) -> None:
        """Create the pool, waiting (capped, jittered backoff) while the server cannot be
        reached, as the Kafka bus waits for its broker. A refusal waiting cannot fix (no
        such database, bad password) is raised at once."""
        delays = backoff_delays(0.2, 30.0)
        while self._pool is None:
            try:
                self._pool = await asyncpg.create_pool(
                    self.dsn, min_size=self._min_size, max_size=self._max_size,
                    command_timeout=self._timeout, timeout=min(self._timeout, 10.0),
                )  # fmt: skip
            except Exception as exc:
                error = mapped(exc, f"connecting to {redacted(self.dsn)}")
                if not error.retriable:
                    raise error from exc
                delay = next(delays)
                log.warning("%s; retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self._timeout)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("closing the PostgreSQL pool: %s; terminating its connections", exc)
                pool.terminate()

    @asynccontextmanager
    async def connection(self, what: str = "query") -> AsyncIterator[PgConnection]:
        """A pooled connection; asyncpg's errors inside come out mapped."""
        if self._pool is None:
            raise StorageUnavailable("storage is not open")
        try:
            async with self._pool.acquire(timeout=self._timeout) as raw:
                yield PgConnection(raw)
        except CryptovizError:
            raise
        except Exception as exc:
            raise mapped(exc, what) from exc

    @asynccontextmanager
    async def transaction(self, what: str = "write") -> AsyncIterator[PgConnection]:
        """A pooled connection inside one transaction, committed when the block ends and
        rolled back when it raises or is cancelled. Its duration, pool wait included, is
        recorded under `what` once committed."""
        started = time.perf_counter()
        async with self.connection(what) as conn, conn._raw.transaction():
            yield conn
        self.write_timings.observe(what, time.perf_counter() - started)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self.connection("read") as conn:
            return await conn.fetch(sql, *args)
