"""In-tree build backend: setuptools, plus the dashboard build before a wheel or an sdist.

As JupyterLab's build hooks do, a wheel (and an sdist, so a wheel built from it needs no
Node.js) always carries the built dashboard: when `cryptoviz/static/dashboard/` is missing,
`web/` is built first. An editable install (`pip install -e .`) builds nothing: it reads
the files in place, and `make run` builds them when they are missing or stale.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (the PEP 517 hooks this module does not change)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_assets


def _with_dashboard(build: Callable[[], str]) -> str:
    try:
        web_assets.ensure("if-missing")
    except web_assets.BuildError as exc:
        raise SystemExit(f"cryptoviz: cannot package the dashboard: {exc}") from None
    with warnings.catch_warnings():
        # The dashboard's folders are package data, not Python packages; setuptools warns
        # about any data folder whose name could be imported.
        warnings.filterwarnings("ignore", message=r"Package 'cryptoviz\.static")
        return build()


def build_wheel(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    return _with_dashboard(
        lambda: _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    )


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    return _with_dashboard(lambda: _setuptools.build_sdist(sdist_directory, config_settings))
