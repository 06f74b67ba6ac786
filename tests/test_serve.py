"""`cryptoviz serve` as a process: the demo appliance over HTTP, a graceful SIGTERM that loses
nothing, a bad configuration refused at start, and the installed entry points."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

import cryptoviz

CLI = Path(sysconfig.get_path("scripts")) / "cryptoviz"
SIM_SYMBOLS = {"BTCUSDT", "ETHUSDT"}  # the simulator's default symbols
READY_DEADLINE_S = 30.0
STOP_DEADLINE_S = 15.0
POLL_S = 0.05


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOVIZ_")}
    env.update({f"CRYPTOVIZ_{k}": v for k, v in overrides.items()})
    return env


class Server(NamedTuple):
    proc: subprocess.Popen[bytes]
    port: int
    db: Path
    log: Path
    http: httpx.Client

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_for(condition: Callable[[], Any], what: str, server: Server, deadline_s: float) -> Any:
    """Poll `condition` until it returns something truthy; fail after `deadline_s` or if the server died."""
    deadline = time.monotonic() + deadline_s
    while True:
        assert server.proc.poll() is None, f"server exited ({server.proc.returncode}):\n{server.output()}"
        try:
            result = condition()
        except httpx.TransportError:
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {deadline_s}s\n{server.output()}"
        time.sleep(POLL_S)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the server and its worker (its own process group) if a test left it running."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_DEADLINE_S)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # a worker the server left behind, if any
    if proc.poll() is None:
        proc.wait(timeout=STOP_DEADLINE_S)


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[Server]:
    """`cryptoviz serve --demo` on a free port, a fresh database, 200 simulated trades/s; ready."""
    port = free_port()
    db = tmp_path / "serve.db"
    log = tmp_path / "serve.log"
    env = clean_env(
        SERVER__PORT=str(port),
        STORAGE__SQLITE_PATH=str(db),
        PLUGINS__SIMULATOR__TRADES_PER_SECOND="200",
    )
    with log.open("wb") as out, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as http:
        proc = subprocess.Popen(
            [str(CLI), "serve", "--demo"], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        server = Server(proc, port, db, log, http)
        try:
            wait_for(lambda: http.get("/ready").status_code == 200, "/ready 200", server, READY_DEADLINE_S)
            yield server
        finally:
            _stop(proc)


def ready_details(server: Server) -> dict[str, Any]:
    response = server.http.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data: dict[str, Any] = body["data"]
    return data


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on `port`, from the kernel's tables."""
    found: set[str] = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, port_hex = fields[1].partition(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # host-order words
                found.add(socket.inet_ntop(family, packed))
    return found


@pytest.mark.slow
def test_demo_serves_simulator_symbols_and_1s_candles_on_loopback_only(demo_server: Server) -> None:
    http = demo_server.http

    def symbols() -> list[dict[str, Any]] | None:
        body = http.get("/api/v1/symbols").json()
        return body["data"] if {s["symbol"] for s in body["data"]} == SIM_SYMBOLS else None

    listed = wait_for(symbols, "both simulator symbols listed", demo_server, READY_DEADLINE_S)
    assert {s["exchange"] for s in listed} == {"simulator"}
    for symbol in sorted(SIM_SYMBOLS):

        def candles(symbol: str = symbol) -> list[dict[str, Any]] | None:
            response = http.get(f"/api/v1/crypto/{symbol}/data", params={"interval": "1s", "limit": "10"})
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            assert (data["symbol"], data["interval"]) == (symbol, "1s")
            return data["data"] or None

        series = wait_for(candles, f"1s candles of {symbol}", demo_server, READY_DEADLINE_S)
        assert all(c["trades"] >= 0 and c["low"] <= c["open"] <= c["high"] for c in series)
        assert sum(c["trades"] for c in series) > 0

    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    assert listening_addresses(demo_server.port) == {"127.0.0.1"}


@pytest.mark.slow
def test_sigterm_exits_0_and_stores_every_published_trade_and_forming_candle(demo_server: Server) -> None:
    def published() -> int:
        count = int(ready_details(demo_server)["plugins"]["simulator"]["published"])
        return count if count >= 200 else 0

    wait_for(published, "200 simulated trades published", demo_server, READY_DEADLINE_S)
    published_before_stop = int(ready_details(demo_server)["plugins"]["simulator"]["published"])

    demo_server.proc.send_signal(signal.SIGTERM)
    try:
        code = demo_server.proc.wait(timeout=STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_DEADLINE_S}s after SIGTERM:\n{demo_server.output()}")
    assert code == 0, demo_server.output()

    with closing(sqlite3.connect(f"file:{demo_server.db}?mode=ro", uri=True)) as conn:
        stored = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
        assert stored >= published_before_stop, (
            f"lost trades: {stored} stored, {published_before_stop} published"
        )
        per_symbol = conn.execute(
            "SELECT symbol, count(*), min(trade_id), max(trade_id), max(time) FROM trades GROUP BY symbol"
        ).fetchall()
        assert {row[0] for row in per_symbol} == SIM_SYMBOLS
        for symbol, count, first_id, last_id, last_time in per_symbol:
            assert (first_id, count) == (1, last_id), f"{symbol}: trade ids 1..{last_id} not all stored"
            newest = conn.execute(
                "SELECT interval, open_time, last_trade_id FROM candles c WHERE symbol = ? AND open_time ="
                " (SELECT max(open_time) FROM candles WHERE symbol = c.symbol AND interval = c.interval)",
                (symbol,),
            ).fetchall()
            by_interval = {interval: (open_time, last) for interval, open_time, last in newest}
            assert set(by_interval) == {"1s", "5s", "1m", "15m", "1h", "4h", "1d"}
            assert by_interval["1s"] == (last_time - last_time % 1000, last_id), f"{symbol}: 1s not flushed"
            assert {last for _, last in by_interval.values()} == {last_id}, f"{symbol}: {by_interval}"


def _worker_pids(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_sigkill_of_the_main_process_stops_the_worker_gracefully(demo_server: Server) -> None:
    """granian runs the app in a worker process: a main process killed outright must not
    leave it behind holding the port and writing to the database; it stops and flushes."""
    workers = wait_for(lambda: _worker_pids(demo_server.proc.pid), "a worker process", demo_server, 10)
    wait_for(lambda: ready_details(demo_server)["plugins"]["simulator"]["published"] >= 100,
             "100 trades published", demo_server, READY_DEADLINE_S)  # fmt: skip
    demo_server.proc.send_signal(signal.SIGKILL)
    demo_server.proc.wait(timeout=STOP_DEADLINE_S)
    deadline = time.monotonic() + STOP_DEADLINE_S
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, (
            f"worker still running after its parent died:\n{demo_server.output()}"
        )
        time.sleep(POLL_S)
    assert "stopping plugin simulator" in demo_server.output()  # the graceful shutdown ran
    with closing(sqlite3.connect(f"file:{demo_server.db}?mode=ro", uri=True)) as conn:
        assert conn.execute("SELECT count(*) FROM trades").fetchone()[0] >= 100


@pytest.mark.parametrize("port", ["abc", "0", "65536"])
def test_serve_refuses_a_bad_port_at_once_naming_the_key(port: str, tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    proc = subprocess.run(
        [str(CLI), "serve", "--demo"],
        env=clean_env(SERVER__PORT=port, STORAGE__SQLITE_PATH=str(db)),
        cwd=tmp_path, capture_output=True, text=True, timeout=READY_DEADLINE_S,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "server.port" in proc.stderr
    assert port in proc.stderr
    assert proc.stdout == ""
    assert not db.exists(), "the storage was opened despite the bad configuration"


def test_python_dash_m_cryptoviz_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cryptoviz", "--version"], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"cryptoviz {cryptoviz.__version__}"
    assert cryptoviz.__version__ == importlib.metadata.version("cryptoviz")


def test_installed_console_script() -> None:
    scripts = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "cryptoviz"]
    assert [e.value for e in scripts] == ["cryptoviz.cli:main"]
    assert CLI.is_file(), f"no console script at {CLI}"
    assert os.access(CLI, os.X_OK)
    proc = subprocess.run([str(CLI), "--version"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"cryptoviz {cryptoviz.__version__}"


@pytest.mark.slow
def test_a_start_removes_the_socket_folder_a_killed_server_left(tmp_path: Path) -> None:
    """The front listener relays to granian on a unix socket in a private temporary folder;
    a server killed outright cannot remove it, so the next start does."""
    temp = tmp_path / "tmp"
    temp.mkdir()

    def start(name: str) -> Server:
        port = free_port()
        env = clean_env(SERVER__PORT=str(port), STORAGE__SQLITE_PATH=str(tmp_path / f"{name}.db"))
        env["TMPDIR"] = str(temp)
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(CLI), "serve", "--demo"], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        server = Server(
            proc, port, tmp_path / f"{name}.db", log, httpx.Client(base_url=f"http://127.0.0.1:{port}")
        )
        wait_for(lambda: server.http.get("/ready").status_code == 200, "/ready 200", server, READY_DEADLINE_S)
        return server

    def folders() -> set[str]:
        return {p.name for p in temp.glob("cryptoviz-*")}

    killed = start("killed")
    try:
        assert folders() == {f.name for f in temp.glob(f"cryptoviz-{killed.proc.pid}-*")} != set()
        os.killpg(killed.proc.pid, signal.SIGKILL)  # main process and worker: no cleanup runs
        killed.proc.wait(timeout=STOP_DEADLINE_S)
        left = folders()
        assert left, "the killed server's folder should still be there"
    finally:
        _stop(killed.proc)
        killed.http.close()
    restarted = start("restarted")
    try:
        assert folders().isdisjoint(left)
        assert {f.name for f in temp.glob(f"cryptoviz-{restarted.proc.pid}-*")} == folders()
    finally:
        _stop(restarted.proc)
        restarted.http.close()
    assert folders() == set()  # a graceful stop removes its own
