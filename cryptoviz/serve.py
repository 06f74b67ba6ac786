"""Run the app under granian: ASGI interface, one worker (the lifespan, and so every
collector, must run once), SIGTERM handled by granian, which runs the lifespan
shutdown so pending writes are flushed."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

from granian.constants import Interfaces
from granian.server import Server
from litestar import Litestar

from cryptoviz.config import Config, load_config

CONFIG_ENV = "CRYPTOVIZ_CONFIG_FILE"


_PR_SET_PDEATHSIG = 1


def _stop_with_parent() -> None:
    """Ask Linux to send this worker SIGTERM when granian's main process dies, even by
    SIGKILL: an orphaned worker would keep the port and keep writing to the database.
    SIGTERM runs the graceful shutdown, so what the worker holds is still flushed."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    parent = os.getppid()
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def app_factory() -> Litestar:
    """Called by granian in the worker: rebuild the config from the same file and variables."""
    from cryptoviz.app import create_app
    from cryptoviz.cli import _setup_logging

    _stop_with_parent()
    config = load_config(os.environ.get(CONFIG_ENV) or None)
    _setup_logging(config)
    return create_app(config)


def serve(config: Config, config_path: str | None) -> int:
    if config_path:
        os.environ[CONFIG_ENV] = os.path.abspath(config_path)
    server = Server(
        "cryptoviz.serve:app_factory",
        address=config.server.host,
        port=config.server.port,
        interface=Interfaces.ASGI,
        workers=1,
        factory=True,
        log_access=False,
    )
    server.serve()
    return 0
