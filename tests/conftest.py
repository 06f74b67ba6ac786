"""Shared fixtures: the recorded data set, fresh configs and a running runtime."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cryptoviz.config import Config, load_config
from cryptoviz.plugin import discover, select
from cryptoviz.runtime import Runtime

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.servers"]  # postgres_dsn, redis_url, kafka_bootstrap: real servers on loopback


def testdata_dir() -> Path:
    return Path(os.environ.get("CRYPTOVIZ_TESTDATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def testdata() -> Path:
    """`../shared/data` (or $CRYPTOVIZ_TESTDATA): skipped where absent, a failure in CI."""
    path = testdata_dir()
    if not (path / "binance").is_dir():
        message = f"shared test data not found at {path}: set CRYPTOVIZ_TESTDATA"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def make_config(tmp_path: Path, **overrides: str) -> Config:
    """Embedded defaults with the database in `tmp_path`; overrides as CRYPTOVIZ_* variables
    without the prefix, e.g. make_config(tmp, PLUGINS__ENABLED='["trades"]')."""
    env = {"CRYPTOVIZ_STORAGE__SQLITE_PATH": str(tmp_path / "test.db"), "CRYPTOVIZ_STORAGE__FLUSH_MS": "20"}
    env.update({f"CRYPTOVIZ_{k}": v for k, v in overrides.items()})
    return load_config(None, env)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, PLUGINS__ENABLED='["trades", "candles"]')


@pytest.fixture
async def runtime(config: Config) -> AsyncIterator[Runtime]:
    """A started runtime with the trades and candles handlers and no collector."""
    rt = Runtime(config, select(config, discover()))
    await rt.start()
    yield rt
    await rt.stop()
