"""A wheel always carries the dashboard: built from a checkout where it was never built,
the build backend builds `web/` first."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "static", "var", "build", "dist", "*.egg-info", ".*cache", ".hypothesis"
)


def test_wheel_from_an_unbuilt_checkout_carries_the_built_dashboard(
    node_toolchain: Path, tmp_path: Path
) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, ignore=SKIP, symlinks=True)
    assert not (checkout / "cryptoviz" / "static").exists()
    (checkout / "web" / "node_modules").symlink_to(node_toolchain / "node_modules")  # skips a second npm ci
    out = tmp_path / "wheel"
    env = {k: v for k, v in os.environ.items() if k != "NODE_ENV"}
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(checkout)],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (wheel,) = out.glob("cryptoviz-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        index = zf.read("cryptoviz/static/dashboard/index.html").decode()
    entry = re.search(r'<script type="module"[^>]* src="/(assets/[^"]+\.js)"', index)
    assert entry, index
    assert f"cryptoviz/static/dashboard/{entry.group(1)}" in names, sorted(n for n in names if "static" in n)
    assert "cryptoviz_plugins/dashboard.py" in names
