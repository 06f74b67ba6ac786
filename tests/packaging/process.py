"""A packaged cryptoviz as a process for the packaging tests: start, wait, stop, report."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

POLL_S = 0.05
STOP_DEADLINE_S = 20.0


def require_tool(name: str) -> str:
    """The tool's path; skipped with the reason where it is missing, a failure when CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"`{name}` is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: .ci/run installs it)")
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without any CRYPTOVIZ_ variable, plus `settings` as CRYPTOVIZ_<KEY>."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOVIZ_")}
    env.update({f"CRYPTOVIZ_{k}": v for k, v in settings.items()})
    return env


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    log: Path
    http: httpx.Client
    started: float

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], Any], what: str, deadline_s: float = 30.0) -> Any:
        """Poll until `condition` returns something truthy; fail on the deadline or if the server died."""
        deadline = time.monotonic() + deadline_s
        while True:
            assert self.proc.poll() is None, f"server exited ({self.proc.returncode}):\n{self.output()}"
            with suppress(httpx.TransportError):
                result = condition()
                if result:
                    return result
            assert time.monotonic() < deadline, f"{what}: not within {deadline_s} s\n{self.output()}"
            time.sleep(POLL_S)

    def wait_ready(self, deadline_s: float = 30.0) -> float:
        """Seconds from the start of the process to the first /ready 200."""
        self.wait_for(lambda: self.http.get("/ready").status_code == 200, "/ready 200", deadline_s)
        return time.monotonic() - self.started

    def terminate(self) -> int:
        """SIGTERM, as systemd and container engines stop a service; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within {STOP_DEADLINE_S} s of SIGTERM:\n{self.output()}")


@contextmanager
def serving(command: Sequence[str], port: int, env: dict[str, str], cwd: Path) -> Iterator[Server]:
    """The command running with its output in cwd/serve.log; killed with its group if left running."""
    log = cwd / "serve.log"
    with log.open("wb") as out, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as http:
        started = time.monotonic()
        proc = subprocess.Popen(
            list(command), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield Server(proc, log, http, started)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_DEADLINE_S)
