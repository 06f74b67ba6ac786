"""Build the single binary `dist/cryptoviz` with PyInstaller (packaging/cryptoviz.spec).

    .venv/bin/python scripts/build_binary.py [--force]

Builds the dashboard first when it is stale (scripts/web_assets.py), then the binary when
it is missing or older than anything it holds: the sources of cryptoviz and its plugins, the
default config, the dashboard, the spec, and the packages installed in this Python (a
`pip install` touches their dist-info folders). Run it with the project's virtualenv Python:
the binary bundles what that environment has installed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_assets

REPO = web_assets.REPO
BINARY = REPO / "dist" / "cryptoviz"
SPEC = REPO / "packaging" / "cryptoviz.spec"
WORK = REPO / "build" / "pyinstaller"


def inputs() -> Iterator[Path]:
    """Every file whose change calls for a new binary."""
    yield from (REPO / "packaging").glob("*")
    yield Path(__file__).resolve()
    yield REPO / "config.toml"
    yield REPO / "pyproject.toml"
    for folder in ("cryptoviz", "plugins"):
        yield from (p for p in (REPO / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    yield from Path(sysconfig.get_path("purelib")).glob("*.dist-info")


def stale() -> bool:
    if not BINARY.is_file():
        return True
    built = BINARY.stat().st_mtime
    return any(p.exists() and p.stat().st_mtime > built for p in inputs())


def build() -> float:
    """Run PyInstaller; the seconds it took."""
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(BINARY.parent), "--workpath", str(WORK), str(SPEC)],
        cwd=REPO, check=True,
    )  # fmt: skip
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="build even when dist/cryptoviz is fresh")
    args = parser.parse_args(argv)
    try:
        web_assets.ensure("if-stale")
    except web_assets.BuildError as exc:
        print(f"binary: error: {exc}", file=sys.stderr)
        return 1
    if not args.force and not stale():
        print(f"binary: {BINARY.relative_to(REPO)} is up to date", file=sys.stderr)
        return 0
    try:
        seconds = build()
    except subprocess.CalledProcessError as exc:
        print(f"binary: error: PyInstaller failed with exit code {exc.returncode}", file=sys.stderr)
        return 1
    size = BINARY.stat().st_size / 1e6
    print(f"binary: built {BINARY.relative_to(REPO)}, {size:.1f} MB, in {seconds:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
