"""Folders named after their process: those of a process that is gone are removed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptoviz.pidfolders import owned_prefix, pid_alive, remove_orphans


def test_only_folders_of_processes_that_are_gone_are_removed(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)
    assert not pid_alive(dead_pid)
    assert pid_alive(os.getpid())
    ours = tmp_path / f"{owned_prefix('cv-')}abc"
    orphan = tmp_path / f"cv-{dead_pid}-abc"
    other = tmp_path / "cv-servers-1-abc"
    for folder in (ours, orphan, other):
        folder.mkdir()
        (folder / "granian.sock").write_text("")
    remove_orphans("cv-", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ours.name, other.name])
