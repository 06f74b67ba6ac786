"""The single binary `dist/cryptoviz` (`make binary`): built from this checkout when stale, then
run with every Python installation hidden, under the systemd unit's W^X and
no-new-privileges rules, offline (simulator and a local news feed)."""

from __future__ import annotations

import asyncio
import glob
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import REPO
from tests.packaging.conftest import MEASURED
from tests.packaging.process import clean_env, free_port, require_tool, serving
from tests.servers import production_overrides
from tests.storage.postgres_db import count, database_dsn

pytestmark = pytest.mark.slow
BINARY = REPO / "dist" / "cryptoviz"
SANDBOX = Path(__file__).with_name("sandbox.py")
DASHBOARD_INDEX = REPO / "cryptoviz" / "static" / "dashboard" / "index.html"
MAX_SIZE_MB = 60.0
PLUGIN_NAMES = ("binance", "candles", "dashboard", "indicators", "news", "replay", "simulator", "trades")
FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Local</title><link>https://news.example.com</link>
<description>offline feed</description>
<item><title>Bitcoin rallies to a great new high</title><link>https://news.example.com/a</link>
<guid>a1</guid><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate>
<description>Traders cheer.</description></item>
</channel></rss>
"""


@pytest.fixture(scope="module")
def binary() -> Path:
    """dist/cryptoviz, rebuilt unless it is newer than everything it holds."""
    started = time.monotonic()
    built = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_binary.py")], cwd=REPO, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stdout + built.stderr
    seconds = time.monotonic() - started
    fresh = "up to date" in built.stderr
    MEASURED.append(f"dist/cryptoviz: {'reused, fresh' if fresh else f'built in {seconds:.0f} s'}")
    return BINARY


def python_installations() -> list[str]:
    """Every Python standard library and libpython on this machine, to be hidden."""
    prefixes = {sys.base_prefix, sys.prefix, "/usr", "/usr/local"}
    found = {p for prefix in prefixes for p in glob.glob(f"{prefix}/lib/python3*")}
    found |= {p for prefix in prefixes for p in glob.glob(f"{prefix}/lib/libpython3*")}
    found |= set(glob.glob("/usr/lib/*/libpython3*"))
    return sorted(found)


def mdwe_supported() -> bool:
    probe = subprocess.run([sys.executable, str(SANDBOX), "--mdwe", "--", "true"], capture_output=True)
    return probe.returncode == 0


def offline_config(folder: Path, port: int) -> Path:
    (folder / "feed.xml").write_text(FEED)
    config = folder / "config.toml"
    config.write_text(
        f'[server]\nport = {port}\n[storage]\nsqlite_path = "{folder / "state" / "cryptoviz.db"}"\n'
        '[plugins]\nenabled = ["simulator", "trades", "candles", "indicators", "news", "dashboard"]\n'
        f'[plugins.news]\nfeeds = ["{folder / "feed.xml"}"]\n'
    )
    return config


def test_binary_serves_offline_without_python(binary: Path, tmp_path: Path) -> None:
    size_mb = binary.stat().st_size / 1e6
    assert size_mb < MAX_SIZE_MB
    if os.geteuid() != 0:
        message = "hiding the Python installations takes a mount namespace: run as root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    require_tool("unshare")
    mdwe = mdwe_supported()
    hidden = [arg for path in python_installations() for arg in ("--hide", path)]
    port = free_port()
    config = offline_config(tmp_path, port)
    (tmp_path / "tmp").mkdir()
    env = {**clean_env(), "TMPDIR": str(tmp_path / "tmp")}  # where the binary unpacks itself
    sandbox = [sys.executable, str(SANDBOX), *(["--mdwe"] if mdwe else []), *hidden, "--"]
    command = [*sandbox, str(binary), "serve", "--config", str(config)]
    with serving(command, port, env, tmp_path) as server:
        ready_s = server.wait_ready()
        health = server.http.get("/health")
        assert health.status_code == 200
        assert health.json()["data"]["status"] == "ok"
        server.wait_for(
            lambda: (
                {"BTCUSDT", "ETHUSDT"}
                <= {s["symbol"] for s in server.http.get("/api/v1/symbols").json()["data"]}
            ),
            "simulated symbols stored",
        )
        page = server.http.get("/")
        assert page.status_code == 200
        assert page.text == DASHBOARD_INDEX.read_text()
        script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
        assert script is not None
        assert server.http.get(script.group(1)).status_code == 200
        news = server.wait_for(lambda: server.http.get("/api/v1/news").json()["data"]["data"], "news stored")
        assert news[0]["symbols"] == ["BTCUSDT"]
        assert news[0]["sentiment"] > 0.5  # VADER's lexicon travelled inside the binary
        assert server.terminate() == 0, server.output()
    assert (tmp_path / "state" / "cryptoviz.db").stat().st_size > 0
    assert not list((tmp_path / "tmp").iterdir()), "the unpacked files were not removed at exit"
    MEASURED.append(
        f"dist/cryptoviz: {size_mb:.1f} MB, start to /ready {ready_s:.2f} s (no Python visible,"
        f" {'W^X enforced' if mdwe else 'W^X not enforceable on this kernel'})"
    )


def test_binary_lists_bundled_plugins_and_refuses_bad_config(binary: Path, tmp_path: Path) -> None:
    env = clean_env(STORAGE__SQLITE_PATH=str(tmp_path / "x.db"))
    listed = subprocess.run(
        [str(binary), "plugins"], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    for name in PLUGIN_NAMES:
        assert f"[entry point cryptoviz_plugins.{name}:plugin]" in listed.stdout
    checked = subprocess.run(
        [str(binary), "check-config"], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert 'enabled = ["binance", "trades", "candles", "indicators", "news", "dashboard"]' in checked.stdout
    bad = subprocess.run(
        [str(binary), "check-config"], env={**env, "CRYPTOVIZ_SERVER__PORT": "abc"},
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "`server.port` = 'abc' (from CRYPTOVIZ_SERVER__PORT)" in bad.stderr


async def _admin(server_dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def postgres_database(postgres_dsn: str) -> Iterator[str]:
    """A new empty database, dropped afterwards (the server is the test session's)."""
    name = f"bin_{uuid.uuid4().hex[:16]}"  # generated here: safe to inline as an identifier
    asyncio.run(_admin(postgres_dsn, f'CREATE DATABASE "{name}"'))
    yield database_dsn(postgres_dsn, name)
    asyncio.run(_admin(postgres_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_binary_runs_on_postgres_kafka_and_redis(
    binary: Path, tmp_path: Path, postgres_database: str, redis_url: str, kafka_bootstrap: str
) -> None:
    tag = f"bin{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = clean_env(
        SERVER__PORT=str(port),
        PLUGINS__ENABLED='["simulator", "trades", "candles"]',
        **production_overrides(kafka_bootstrap, redis_url, postgres_database, tag, partitions=1),
    )
    with serving([str(binary), "serve"], port, env, tmp_path) as server:
        server.wait_ready(deadline_s=90.0)
        ready = server.http.get("/ready").json()["data"]
        assert (ready["storage"]["backend"], ready["bus"]["backend"], ready["dedup"]["backend"]) == (
            "postgres", "kafka", "redis",
        )  # fmt: skip
        server.wait_for(
            lambda: "BTCUSDT" in {s["symbol"] for s in server.http.get("/api/v1/symbols").json()["data"]},
            "trades stored through Kafka in PostgreSQL",
            deadline_s=60.0,
        )
        assert server.terminate() == 0, server.output()
    assert asyncio.run(count(postgres_database, "trades")) > 0
