"""The test servers themselves: usable, and listening on loopback only."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.servers import KafkaServer, PostgresServer, RedisServer, Server

LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp
# 127.0.0.1 as /proc/net prints it (little-endian hex), then as an IPv4-mapped IPv6 address
# (Java binds dual-stack sockets), then ::1.
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def listening_addresses(port: int) -> set[str]:
    """Hex local addresses of the sockets listening on `port`, IPv4 and IPv6."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == LISTEN and int(hex_port, 16) == port:
                found.add(address)
    return found


def assert_loopback_only(server: Server, *ports: int) -> None:
    assert server.running
    for port in ports:
        addresses = listening_addresses(port)
        assert addresses, f"{server.name} is not listening on port {port}"
        assert addresses <= LOOPBACK, f"{server.name} port {port} listens beyond loopback: {addresses}"


def test_postgres_runs_on_loopback_and_takes_queries(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    assert_loopback_only(postgres_server, postgres_server.port)
    psql = postgres_server.bindir / "psql"
    done = subprocess.run(
        [str(psql), postgres_dsn, "-tAc", "SELECT current_user, current_setting('fsync')"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "postgres|off"


def test_redis_runs_on_loopback(redis_server: RedisServer, redis_url: str) -> None:
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert_loopback_only(redis_server, redis_server.port)


def test_kafka_runs_on_loopback(kafka_server: KafkaServer, kafka_bootstrap: str) -> None:
    assert kafka_bootstrap == f"127.0.0.1:{kafka_server.port}"
    assert_loopback_only(kafka_server, kafka_server.port, kafka_server.controller_port)
