"""`pip install .` gives a complete product: plugins, default config, console script."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("cryptoviz-*.whl")
    return path


def test_wheel_carries_plugins_config_and_entry_points(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        config = zf.read("cryptoviz/config.toml").decode()
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert {f"cryptoviz_plugins/{p}.py" for p in ("replay", "simulator", "trades", "candles")} <= names
    assert config == (REPO / "config.toml").read_text()
    assert "[cryptoviz.plugins]" in entry_points
    assert "cryptoviz = cryptoviz.cli:main" in entry_points


def test_installed_wheel_runs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site), "CRYPTOVIZ_STORAGE__SQLITE_PATH": str(tmp_path / "x.db")}
    run = [sys.executable, "-m", "cryptoviz"]
    where = subprocess.run(
        [sys.executable, "-c", "import cryptoviz, cryptoviz_plugins; print(cryptoviz.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(site))
    plugins = subprocess.run(
        [*run, "plugins"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    for name in ("replay", "simulator", "trades", "candles"):
        assert name in plugins.stdout
    checked = subprocess.run(
        [*run, "check-config"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert 'enabled = ["binance", "trades", "candles", "indicators", "news", "dashboard"]' in checked.stdout
