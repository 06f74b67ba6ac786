"""Log lines: JSON objects when stderr is not a terminal, the human format on one, for the
app and for granian alike; and the `log.format` key."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import re
import select
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from cryptoviz.config import LogConfig
from cryptoviz.errors import ConfigError
from cryptoviz.logs import JsonFormatter, chosen_format
from tests.conftest import make_config
from tests.test_serve import CLI, clean_env, free_port

DEADLINE_S = 30.0
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: .+$"
)


def record_through(formatter: logging.Formatter, emit: Any) -> str:
    """What `emit(logger)` writes through a handler with `formatter`."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger = logging.getLogger("tests.logs.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return out.getvalue()


def test_json_lines_carry_the_fields_extras_and_exception() -> None:
    def emit(logger: logging.Logger) -> None:
        logger.warning("feed %s failed\nsecond line", "coindesk", extra={"symbol": "BTCUSDT", "n": 3})
        try:
            raise ValueError("bad price")
        except ValueError:
            logger.exception("write refused", extra={"path": Path("/tmp/x")})

    before = datetime.now().astimezone()
    lines = record_through(JsonFormatter(), emit).splitlines()
    assert len(lines) == 2  # the message's newline stays inside its JSON string
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "WARNING"
    assert first["logger"] == "tests.logs.json"
    assert first["message"] == "feed coindesk failed\nsecond line"
    assert (first["symbol"], first["n"]) == ("BTCUSDT", 3)
    assert "exception" not in first
    ts = datetime.fromisoformat(first["ts"])
    assert ts.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= ts <= datetime.now().astimezone()
    assert second["message"] == "write refused"
    assert second["exception"].startswith("Traceback (most recent call last):")
    assert second["exception"].endswith("ValueError: bad price")
    assert second["path"] == "/tmp/x"  # not JSON: written as its str


def test_auto_is_json_off_a_terminal_and_text_on_one() -> None:
    assert chosen_format(LogConfig(format="auto"), io.StringIO()) == "json"
    assert chosen_format(LogConfig(format="text"), io.StringIO()) == "text"
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal:
        assert chosen_format(LogConfig(format="auto"), terminal) == "text"
        assert chosen_format(LogConfig(format="json"), terminal) == "json"
    os.close(master)


def test_an_unknown_format_is_refused_with_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        make_config(tmp_path, LOG__FORMAT="xml")
    assert "`log.format` = 'xml' (from CRYPTOVIZ_LOG__FORMAT)" in str(error.value)
    assert "'auto', 'json', 'text'" in str(error.value)


@contextmanager
def serving(tmp_path: Path, stderr: int | IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """`cryptoviz serve` with the simulator; SIGTERM and wait on the way out."""
    port = free_port()
    env = clean_env(
        SERVER__PORT=str(port),
        STORAGE__SQLITE_PATH=str(tmp_path / "serve.db"),
        PLUGINS__ENABLED='["simulator", "trades", "candles"]',
    )
    proc = subprocess.Popen(
        [str(CLI), "serve"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + DEADLINE_S
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as http:
            while True:
                assert proc.poll() is None, f"serve exited with {proc.returncode}"
                with suppress(httpx.TransportError):
                    if http.get("/ready").status_code == 200:
                        assert http.get("/metrics").status_code == 200
                        break
                assert time.monotonic() < deadline, "serve not ready in time"
                time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=DEADLINE_S)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def check_lines(lines: list[str]) -> None:
    """The run's start and stop, from granian's main process, its worker and the app."""
    loggers = [line.split(" ")[3].rstrip(":") if TEXT_LINE.match(line) else json.loads(line)["logger"]
               for line in lines]  # fmt: skip
    assert "_granian" in loggers  # granian's main process
    assert "_granian.serve" in loggers  # granian in the worker
    assert loggers.count("cryptoviz.runtime") >= 6  # starting and stopping the three plugins


@pytest.mark.slow
def test_serve_writes_only_json_lines_to_a_pipe(tmp_path: Path) -> None:
    with serving(tmp_path, subprocess.PIPE) as proc:
        pass
    assert proc.stderr is not None
    with proc.stderr:
        lines = proc.stderr.read().decode().splitlines()
    assert proc.returncode == 0
    for line in lines:
        entry = json.loads(line)  # every line: one JSON object
        assert {"ts", "level", "logger", "message"} <= entry.keys(), line
        assert datetime.fromisoformat(entry["ts"]).utcoffset() == timedelta(0)
    check_lines(lines)
    assert any(json.loads(line)["message"] == "starting plugin simulator" for line in lines)


@pytest.mark.slow
def test_serve_writes_the_human_format_to_a_terminal(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def read_terminal() -> None:
        while True:
            ready, _, _ = select.select([master], [], [], DEADLINE_S)
            try:
                chunk = os.read(master, 65536) if ready else b""
            except OSError:  # EIO: every writer closed the terminal
                chunk = b""
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    try:
        with serving(tmp_path, slave) as proc:
            os.close(slave)
            slave = -1
    finally:
        if slave >= 0:
            os.close(slave)
        reader.join(DEADLINE_S)
        os.close(master)
    assert proc.returncode == 0
    lines = [line for line in b"".join(chunks).decode().replace("\r\n", "\n").splitlines() if line]
    for line in lines:
        assert TEXT_LINE.match(line), line
    check_lines(lines)
