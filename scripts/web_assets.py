"""Build the dashboard (`web/`) into `cryptoviz/static/dashboard/`, the package's static files.

    python3 scripts/web_assets.py [--if-missing | --if-stale | --force]

`--if-stale` (the default) builds when the files are missing or older than a source in
`web/`; `--if-missing` only when they are missing (the build backend: a wheel always
carries the dashboard). Dependencies come from `web/package-lock.json` (`npm install --no-save`),
again only when the lock file is newer than the installed tree. Standard library only,
so it runs before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
OUT = REPO / "cryptoviz" / "static" / "dashboard"
INDEX = OUT / "index.html"
SOURCE_FILES = (
    "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json", "tsconfig.app.json",
)  # fmt: skip
SOURCE_DIRS = ("src", "public")
NODE_HINT = (
    "install Node.js >= 18 with npm (Debian: apt-get install nodejs npm, or scripts/bootstrap-node.sh)"
)


class BuildError(Exception):
    """The dashboard could not be built; the message says why and what to do."""


def sources() -> Iterator[Path]:
    for name in SOURCE_FILES:
        path = WEB / name
        if path.is_file():
            yield path
    for folder in SOURCE_DIRS:
        if (WEB / folder).is_dir():
            yield from (p for p in (WEB / folder).rglob("*") if p.is_file())


def built() -> bool:
    return INDEX.is_file()


def stale() -> bool:
    """Missing, or older than some source file."""
    if not built():
        return True
    stamp = INDEX.stat().st_mtime
    return any(p.stat().st_mtime > stamp for p in sources())


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise BuildError(f"the dashboard must be built and npm/node are not installed: {NODE_HINT}")
    return npm


def _run(args: list[str], node_env: str | None = None) -> None:
    """Runs npm with NODE_ENV as given: an inherited one (a test runner's "test") would make a
    development build, and "production" would make npm skip the build tools."""
    print(f"web: {' '.join(args)}", file=sys.stderr, flush=True)
    env = {k: v for k, v in os.environ.items() if k != "NODE_ENV"}
    if node_env:
        env["NODE_ENV"] = node_env
    try:
        subprocess.run(args, cwd=WEB, check=True, env=env)
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"`{' '.join(args)}` in {WEB} failed with exit code {exc.returncode}") from None


def install_dependencies() -> None:
    """Install the locked dependencies when node_modules is absent or older than the lock.

    `npm install --no-save` rather than `npm ci`: the lock can only list the platform
    packages the registry serves (rollup's native builds), and `npm ci` refuses a lock
    without all of them; `--no-save` installs the locked versions and writes nothing back."""
    if not (WEB / "package.json").is_file():
        raise BuildError(f"no dashboard sources at {WEB}: this tree cannot build the dashboard")
    marker = WEB / "node_modules" / ".package-lock.json"
    lock = WEB / "package-lock.json"
    if marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    _run([_npm(), "install", "--no-save", "--no-audit", "--no-fund"])


def build() -> None:
    install_dependencies()
    _run([_npm(), "run", "build"], node_env="production")
    if not built():
        raise BuildError(f"the build finished without writing {INDEX}")


def ensure(mode: str = "if-stale") -> bool:
    """Build if `mode` asks for it; True when a build ran."""
    needed = {"force": True, "if-missing": not built(), "if-stale": stale()}[mode]
    if needed:
        build()
    return needed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    for mode in ("if-missing", "if-stale", "force"):
        group.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode)
    mode = parser.parse_args(argv).mode or "if-stale"
    try:
        ran = ensure(mode)
    except BuildError as exc:
        print(f"web: error: {exc}", file=sys.stderr)
        return 1
    if not ran:
        print(f"web: {OUT.relative_to(REPO)} is up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
