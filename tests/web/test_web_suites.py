"""The dashboard's own suites, run from pytest so `make test` runs them: strict TypeScript
checks and formatting, vitest (unit, mock stream, and rt.ts against a real `cryptoviz
serve` each test file starts), the end-to-end run in Chromium, and the initial JavaScript
budget."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import testdata_dir as shared_data_dir

pytestmark = pytest.mark.slow

CLI = Path(sysconfig.get_path("scripts")) / "cryptoviz"
INITIAL_JS_BUDGET = 250 * 1024  # gzipped bytes
SUITE_TIMEOUT_S = 1800


def npm(web: Path, *args: str, **env: str) -> None:
    """Runs an npm script; on failure, the test fails with the end of its output."""
    environment = {k: v for k, v in os.environ.items() if k != "NODE_ENV"}
    environment.update(CRYPTOVIZ_BIN=str(CLI), CRYPTOVIZ_TESTDATA=str(shared_data_dir()), **env)
    proc = subprocess.run(
        ["npm", *args], cwd=web, env=environment, capture_output=True, text=True, timeout=SUITE_TIMEOUT_S
    )
    output = proc.stdout + proc.stderr
    print(output)
    assert proc.returncode == 0, f"npm {' '.join(args)} failed ({proc.returncode}):\n{output[-6000:]}"


def test_typescript_strict_and_formatted(node_toolchain: Path) -> None:
    npm(node_toolchain, "run", "typecheck")
    npm(node_toolchain, "run", "lint")


def test_vitest_unit_mock_and_real_backend(node_toolchain: Path) -> None:
    npm(node_toolchain, "test")


def test_end_to_end_in_chromium(node_toolchain: Path, built_dashboard: Path, chromium: Path) -> None:
    npm(node_toolchain, "run", "test:e2e", CHROMIUM_PATH=str(chromium))


def initial_scripts(root: Path) -> list[Path]:
    """The entry module and its preloaded imports: what loads before the page can run."""
    html = (root / "index.html").read_text()
    refs = re.findall(r'<script[^>]*type="module"[^>]*src="/([^"]+)"', html)
    refs += re.findall(r'<link[^>]*rel="modulepreload"[^>]*href="/([^"]+)"', html)
    return [root / ref for ref in refs]


def test_initial_javascript_within_budget(built_dashboard: Path) -> None:
    scripts = initial_scripts(built_dashboard)
    assert scripts, "no entry script found in index.html"
    sizes = {p.name: len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in scripts}
    total = sum(sizes.values())
    print(f"initial JavaScript, gzipped: {total / 1024:.1f} KiB {sizes}")
    assert total <= INITIAL_JS_BUDGET, (
        f"initial JS is {total} bytes gzipped, budget {INITIAL_JS_BUDGET}: {sizes}"
    )
    lazy = {p.name for p in (built_dashboard / "assets").glob("*.js")} - set(sizes)
    assert lazy, "the mock stream should be a lazy chunk, outside the initial JavaScript"
