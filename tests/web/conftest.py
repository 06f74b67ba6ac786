"""The dashboard's toolchain for the web tests: Node.js and npm, the packages from the lock
file, the current build, and Chromium. Absent pieces skip the tests with the reason, or
fail them when CI=true."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import web_assets

WEB = REPO / "web"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_toolchain() -> Path:
    """web/ with its packages installed from package-lock.json; returns web/."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable(f"Node.js and npm are needed for the dashboard tests: {web_assets.NODE_HINT}")
    web_assets.install_dependencies()
    return WEB


@pytest.fixture(scope="session")
def built_dashboard(node_toolchain: Path) -> Path:
    """The dashboard built from the current sources; returns its folder."""
    web_assets.ensure("if-stale")
    return web_assets.OUT


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    return CHROMIUM
