"""Run the app under granian: ASGI interface, one worker (the lifespan, and so every
collector, must run once), SIGTERM handled by granian, which runs the lifespan
shutdown so pending writes are flushed.

With `server.ws_frontend` (the default), granian listens on a unix socket in a private
directory and the worker's lifespan opens the front listener on `server.host:port`
(cryptoviz/hub/front.py): /ws/crypto is served there, everything else relayed to granian.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server
from litestar import Litestar

from cryptoviz.config import Config, load_config
from cryptoviz.logs import dict_config
from cryptoviz.pidfolders import owned_prefix, remove_orphans

CONFIG_ENV = "CRYPTOVIZ_CONFIG_FILE"
UPSTREAM_ENV = "CRYPTOVIZ_FRONT_UPSTREAM"
"""Where granian listens when the front listener is on: a unix socket path, or host:port."""
_FOLDER_PREFIX = "cryptoviz-"
_UDS_MAX = 100
"""Unix socket paths are limited to about 108 bytes; past this, granian takes a loopback port."""


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
    return create_app(config, front_upstream=os.environ.get(UPSTREAM_ENV) or None)


def serve(config: Config, config_path: str | None) -> int:
    if config_path:
        os.environ[CONFIG_ENV] = os.path.abspath(config_path)
    os.environ.pop(UPSTREAM_ENV, None)
    if not config.server.ws_frontend:
        _server(config, address=config.server.host, port=config.server.port).serve()
        return 0
    remove_orphans(_FOLDER_PREFIX)
    # Mode 0700: ours alone. The pid in the name lets a later start remove it after a SIGKILL.
    with tempfile.TemporaryDirectory(prefix=owned_prefix(_FOLDER_PREFIX)) as private:
        uds = Path(private) / "granian.sock"
        if len(str(uds)) <= _UDS_MAX:
            os.environ[UPSTREAM_ENV] = str(uds)
            server = _server(config, uds=uds, uds_permissions=0o600)
        else:
            port = _free_loopback_port()
            os.environ[UPSTREAM_ENV] = f"127.0.0.1:{port}"
            server = _server(config, address="127.0.0.1", port=port)
        server.serve()
    return 0


def _server(config: Config, **bind: Any) -> Any:
    """granian logs through the same configuration as the app (cryptoviz/logs.py), in its
    main process and in the worker, so stderr holds one format."""
    return Server(
        "cryptoviz.serve:app_factory",
        interface=Interfaces.ASGI,
        workers=1,
        factory=True,
        log_access=False,
        log_level=LogLevels(config.log.level),
        log_dictconfig=dict_config(config.log),
        **bind,
    )


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
