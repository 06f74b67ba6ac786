"""Temporary folders named after the process that made them (`<prefix><pid>-<random>`), so
a later run can remove those a process killed outright left behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def owned_prefix(prefix: str) -> str:
    """The `tempfile` prefix of a folder this process owns."""
    return f"{prefix}{os.getpid()}-"


def remove_orphans(prefix: str, parent: Path | None = None) -> None:
    """Remove this user's folders under `prefix` whose process is gone."""
    for folder in (parent or Path(tempfile.gettempdir())).glob(f"{prefix}*-*"):
        pid = folder.name[len(prefix) :].split("-", 1)[0]
        try:
            if not pid.isdigit() or folder.stat().st_uid != os.getuid() or pid_alive(int(pid)):
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
