"""Server processes for the tests: install, start on a free loopback port, stop, restart.

`Server` runs one process in the foreground and stops it by a signal; it can be stopped,
killed and started again on the same port and data. Servers run under `setpriv
--pdeathsig`, so a test run killed outright takes them along.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "scripts" / "test-servers" / "install.sh"
START_TIMEOUT_S = 180.0  # a cold JVM on a loaded 2-core machine
STOP_TIMEOUT_S = 60.0


class ServerUnavailable(Exception):
    """A server could not be installed or started; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def install(component: str) -> None:
    """`install.sh <component>`: installs what is missing, only checks otherwise."""
    try:
        done = subprocess.run(
            [str(INSTALL), component], capture_output=True, text=True, timeout=1800, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServerUnavailable(f"{component}: cannot run {INSTALL}: {exc}") from None
    if done.returncode != 0:
        raise ServerUnavailable(
            f"{component}: {INSTALL} exited with {done.returncode}: {done.stderr.strip()[-2000:]}"
        )


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Server:
    """One server process in the foreground, stopped by a signal; restartable on the same port."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        raise NotImplementedError

    def _spawn(self, argv: list[str], user: str | None = None) -> None:
        """Runs `argv` (as `user` when given), killed with us if this process dies."""
        prefix: list[str] = []
        if shutil.which("setpriv"):
            prefix = ["setpriv", f"--pdeathsig={self.stop_signal.name[3:]}"]
            if user:
                prefix += [f"--reuid={user}", f"--regid={user}", "--init-groups"]
            prefix.append("--")
        elif user:
            prefix = ["runuser", "-u", user, "--"]
        self._log_file = open(self.log, "ab")  # noqa: SIM115 - closed in _reap
        self.proc = subprocess.Popen(
            prefix + argv, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )  # fmt: skip

    def _wait_ready(self, ready: Callable[[], bool], timeout: float = START_TIMEOUT_S) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                self._reap()
                raise ServerUnavailable(f"{self.name} exited with {code} at start:\n{tail(self.log)}")
            if ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServerUnavailable(f"{self.name} not ready after {timeout:.0f}s:\n{tail(self.log)}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Graceful stop; killed if it takes longer than STOP_TIMEOUT_S."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reap()

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        self._reap()

    def _reap(self) -> None:
        if self.proc is not None:
            self.proc.wait()
            self.proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


class RedisServer(Server):
    name = "redis"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerUnavailable("redis: redis-server not found after install")
        self._spawn([
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.workdir), "--daemonize", "no", "--logfile", "",
        ])  # fmt: skip
        self._wait_ready(self._pong)

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class PostgresServer(Server):
    """initdb in a folder owned by `postgres` (PostgreSQL refuses to run as root), then the
    postmaster in the foreground; SIGINT is its fast shutdown."""

    name = "postgres"
    stop_signal = signal.SIGINT

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.data = workdir / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        self.bindir = _postgres_bindir()

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        self._spawn([
            str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.workdir}",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200",
        ], user=self.user)  # fmt: skip
        self._wait_ready(self._accepting)

    def _initdb(self) -> None:
        if self.user is not None:
            shutil.chown(self.workdir, self.user, self.user)
        argv = [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--no-locale", "--no-sync"]  # fmt: skip
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=self.workdir)
        if done.returncode != 0:
            raise ServerUnavailable(f"postgres: initdb failed: {(done.stdout + done.stderr).strip()[-2000:]}")

    def _accepting(self) -> bool:
        done = subprocess.run(
            [
                str(self.bindir / "pg_isready"),
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
            ],
            check=False,
        )
        return done.returncode == 0


def _postgres_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise ServerUnavailable("postgres: initdb not found after install")
    return Path(initdb).parent
