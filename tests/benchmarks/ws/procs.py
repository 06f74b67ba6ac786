"""Processes of the WebSocket benchmark: the servers under test, the load client, RSS.

Each server runs pinned to one core and the load client to another, so on a 2-core
machine the two never compete with each other for a CPU. Servers get their own process group, so a stop
reaches every process they spawned (granian's worker) and nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
BUILD = HERE / "build"
WSLOAD = BUILD / "wsload"
NODE_SERVER = HERE / "node" / "server.js"
FEEDER_FOLDER = HERE / "feeder"
SERVERS = ("blast", "cryptoviz", "websockets", "node")
KNOWN_SERVERS = (*SERVERS, "blast-frames", "cryptoviz-asgi")
"""`blast` writes a whole run of pre-encoded frames to each client in one call, so its
figure is the load client's own ceiling. `blast-frames` (not run by default) writes one
frame per call, which shows what the kernel's per-write cost alone allows. `cryptoviz`
serves /ws/crypto from the hub's own listener (`server.ws_frontend`, the default);
`cryptoviz-asgi` (not run by default) is the same server with it off: granian's ASGI
WebSocket, as before the listener."""
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class ServerSpec:
    name: str
    argv: list[str]
    path: str
    """WebSocket path the clients connect to."""


@dataclass
class CryptovizOptions:
    extra_plugins: list[str]
    """Enabled besides the feeder."""
    send_buffer: int
    """`hub.send_buffer`: messages one client may have waiting before trades are dropped."""


def server_spec(name: str, port: int, control: Path, options: CryptovizOptions) -> ServerSpec:
    """How to start `name`; the control folder also holds CryptoViz's config and database."""
    python = sys.executable
    feed = ["--port", str(port), "--control", str(control)]
    if name in ("cryptoviz", "cryptoviz-asgi"):
        config = control / "cryptoviz.toml"
        config.write_text(_cryptoviz_config(port, control, options, frontend=name == "cryptoviz"))
        cryptoviz = str(Path(python).with_name("cryptoviz"))
        return ServerSpec(name, [cryptoviz, "serve", "--config", str(config)], "/ws/crypto")
    if name == "websockets":
        return ServerSpec(name, [python, "-m", "tests.benchmarks.ws.peer_websockets", *feed], "/")
    if name == "node":
        return ServerSpec(name, ["node", str(NODE_SERVER), *feed], "/")
    if name in ("blast", "blast-frames"):
        argv = [str(WSLOAD), "blast", "-addr", f"127.0.0.1:{port}", "-control", str(control)]
        return ServerSpec(name, argv if name == "blast" else [*argv, "-per-frame"], "/")
    raise ValueError(f"unknown server {name!r}; known: {', '.join(KNOWN_SERVERS)}")


def _cryptoviz_config(port: int, control: Path, options: CryptovizOptions, *, frontend: bool) -> str:
    enabled = ["wsbench_feeder", *options.extra_plugins]
    return "\n".join(
        [
            f"[server]\nport = {port}\nws_frontend = {json.dumps(frontend)}",
            f"[storage]\nsqlite_path = {json.dumps(str(control / 'bench.db'))}",
            f"[hub]\nsend_buffer = {options.send_buffer}",
            '[log]\nlevel = "warning"',
            f"[plugins]\nenabled = {json.dumps(enabled)}\nfolder = {json.dumps(str(FEEDER_FOLDER))}",
            f"[plugins.wsbench_feeder]\ncontrol_dir = {json.dumps(str(control))}",
            "",
        ]
    )


class Server:
    """A server under test, started pinned and stopped with its whole process group."""

    def __init__(self, spec: ServerSpec, port: int, cpu: int, log: Path) -> None:
        self.spec, self.port = spec, port
        self._log = log.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), *spec.argv],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.spec.path}"

    def wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.spec.name} exited with {self.proc.returncode}; see {self._log.name}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.spec.name} did not listen on port {self.port} within {timeout:.0f}s")

    def rss_kib(self) -> int:
        """Resident memory of the server and every process below it, in KiB."""
        return sum(_rss_kib(pid) for pid in _tree(self.proc.pid))

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in _tree(self.proc.pid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = task.read_text().split()
        except OSError:
            continue
        for child in children:
            pids.extend(_tree(int(child)))
    return pids


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


class LoadClient:
    """The Go load client (loadgen/): n subscribed connections, driven over stdin/stdout."""

    def __init__(self, url: str, n: int, cpu: int, subscribe: str) -> None:
        argv = [str(WSLOAD), "client", "-url", url, "-n", str(n), "-subscribe", subscribe]
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def _read(self, event: str) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"load client exited with {code} while waiting for {event!r}")
        message: dict[str, Any] = json.loads(line)
        if message.get("event") != event:
            raise RuntimeError(f"load client said {message}, expected {event!r}")
        return message

    def _send(self, command: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def ready(self) -> dict[str, Any]:
        return self._read("ready")

    def arm(self, run: int, count: int, idle_timeout: float) -> None:
        self._send({"cmd": "arm", "run": run, "count": count, "idle_timeout": idle_timeout})
        self._read("armed")

    def result(self) -> dict[str, Any]:
        return self._read("result")

    def stats(self) -> dict[str, Any]:
        self._send({"cmd": "stats"})
        return self._read("stats")

    def quit(self) -> None:
        if self.proc.poll() is None:
            try:
                self._send({"cmd": "quit"})
                self.proc.wait(30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class Done(msgspec.Struct):
    run: int
    published: int
    first_us: int
    last_us: int


def send_command(control: Path, run: int, count: int, rate: float, batch: int) -> None:
    """Hand the feeder its next run (written whole, then renamed, so it never reads half a file)."""
    tmp = control / f"cmd-{run}.json.tmp"
    tmp.write_text(json.dumps({"run": run, "count": count, "rate": rate, "batch": batch}))
    os.replace(tmp, control / f"cmd-{run}.json")


def wait_done(control: Path, run: int, timeout: float) -> Done | None:
    path = control / f"done-{run}.json"
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)
    return msgspec.json.decode(path.read_bytes(), type=Done)
