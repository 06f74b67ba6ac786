"""Real servers for the tests: PostgreSQL, Redis and Apache Kafka on loopback ports.

Each starts the first time a test asks for it, on a free port in a temporary folder, and
stops when the session ends. What the machine lacks is installed first by
`scripts/test-servers/install.sh` (Debian packages, Kafka jars from Maven Central, cached
after the first run). A server that cannot be installed or started skips the tests that
need it with the reason, and fails them when `CI=true`.

Fixtures: `postgres_dsn`, `redis_url`, `kafka_bootstrap` (shared by the session), and
`redis_factory`, `kafka_factory` for a test that stops or restarts its own server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

from cryptoviz.pidfolders import owned_prefix, remove_orphans
from tests.servers.kafka import KafkaServer
from tests.servers.processes import (
    PostgresServer,
    RedisServer,
    Server,
    ServerUnavailable,
    install,
)

__all__ = ["KafkaServer", "PostgresServer", "RedisServer", "Server", "ServerUnavailable"]
ATTEMPTS = 3  # fresh ports each time: a free port can be taken before the server binds it
SERVERS_PREFIX = "cryptoviz-servers-"
S = TypeVar("S", bound=Server)


def kafka_redis_overrides(kafka: str, redis: str, tag: str, *, partitions: int = 3) -> dict[str, str]:
    """Configuration (CRYPTOVIZ_* names without the prefix) for the Kafka bus and Redis dedup,
    isolated by `tag`: topics, consumer groups and dedup keys of their own."""
    return {
        "BUS__BACKEND": "kafka",
        "BUS__KAFKA_BOOTSTRAP": kafka,
        "BUS__KAFKA_TOPIC_PREFIX": f"{tag}.",
        "BUS__GROUP_ID": tag,
        "BUS__KAFKA_PARTITIONS": str(partitions),
        "BUS__KAFKA_LINGER_MS": "5",
        "DEDUP__BACKEND": "redis",
        "DEDUP__REDIS_URL": redis,
        "DEDUP__REDIS_KEY_PREFIX": tag,
    }


def production_overrides(
    kafka: str, redis: str, dsn: str, tag: str, *, partitions: int = 3
) -> dict[str, str]:
    """`kafka_redis_overrides` with PostgreSQL storage at `dsn`."""
    overrides = kafka_redis_overrides(kafka, redis, tag, partitions=partitions)
    return {**overrides, "STORAGE__BACKEND": "postgres", "STORAGE__POSTGRES_DSN": dsn}


def unavailable(exc: Exception) -> NoReturn:
    """Skip with the reason, or fail in CI where every server must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{exc} (CI=true: a missing server is a failure)", pytrace=False)
    pytest.skip(str(exc))


def launch(kind: type[S], component: str, parent: Path) -> S:
    """Install if needed, then start `kind` in a fresh folder under `parent`, on fresh
    ports for each of ATTEMPTS tries. Raises ServerUnavailable with the last reason."""
    install(component)
    error: ServerUnavailable | None = None
    for _ in range(ATTEMPTS):
        server: S | None = None
        try:
            server = kind(Path(tempfile.mkdtemp(prefix=f"{component}-", dir=parent)))
            server.start()
            return server
        except ServerUnavailable as exc:
            if server is not None:
                server.stop()
            error = exc
    assert error is not None
    raise error


@pytest.fixture(scope="session")
def servers_dir() -> Iterator[Path]:
    """A world-traversable folder (the postgres user must reach its data), removed at the end.
    Folders left by test runs that were killed outright are removed first."""
    remove_orphans(SERVERS_PREFIX)
    path = Path(tempfile.mkdtemp(prefix=owned_prefix(SERVERS_PREFIX)))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _session_server(kind: type[S], component: str, parent: Path) -> Iterator[S]:
    try:
        server = launch(kind, component, parent)
    except ServerUnavailable as exc:
        unavailable(exc)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(servers_dir: Path) -> Iterator[PostgresServer]:
    yield from _session_server(PostgresServer, "postgres", servers_dir)


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """Superuser `postgres`, trust auth, database `postgres`: create what a test needs."""
    return postgres_server.dsn


@pytest.fixture(scope="session")
def redis_server(servers_dir: Path) -> Iterator[RedisServer]:
    yield from _session_server(RedisServer, "redis", servers_dir)


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture(scope="session")
def kafka_server(servers_dir: Path) -> Iterator[KafkaServer]:
    yield from _session_server(KafkaServer, "kafka", servers_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_server: KafkaServer) -> str:
    return kafka_server.bootstrap


def _factory(kind: type[S], component: str, parent: Path) -> Iterator[Callable[[], S]]:
    started: list[S] = []

    def make() -> S:
        try:
            server = launch(kind, component, parent)
        except ServerUnavailable as exc:
            unavailable(exc)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def redis_factory(servers_dir: Path) -> Iterator[Callable[[], RedisServer]]:
    """Starts a private Redis a test may stop, kill and restart; stopped after the test."""
    yield from _factory(RedisServer, "redis", servers_dir)


@pytest.fixture
def kafka_factory(servers_dir: Path) -> Iterator[Callable[[], KafkaServer]]:
    """Starts a private Kafka a test may stop, kill and restart; stopped after the test."""
    yield from _factory(KafkaServer, "kafka", servers_dir)
