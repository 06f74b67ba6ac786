"""systemd/cryptoviz.service: the committed unit passes `systemd-analyze verify` and rates an
exposure of 2.5 or less in `systemd-analyze security`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO
from tests.packaging.conftest import MEASURED
from tests.packaging.process import require_tool

UNIT = REPO / "systemd" / "cryptoviz.service"
MAX_EXPOSURE = 2.5
UNIT_DIRS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_unit_declares_what_the_service_needs() -> None:
    unit = directives(UNIT.read_text())
    assert unit["DynamicUser"] == ["yes"]
    assert unit["StateDirectory"] == ["cryptoviz"]
    assert unit["ConfigurationDirectory"] == ["cryptoviz"]
    program, config = "/opt/cryptoviz/bin/cryptoviz", "--config /etc/cryptoviz/config.toml"
    (check,) = unit["ExecStartPre"]
    assert f"{program} check-config {config}" in check
    assert unit["ExecStart"] == [f"{program} serve {config}"]
    assert unit["Restart"] == ["on-failure"]
    # The only writable folder holds the database.
    assert "CRYPTOVIZ_STORAGE__SQLITE_PATH=/var/lib/cryptoviz/cryptoviz.db" in unit["Environment"]
    for key in ("ProtectSystem", "NoNewPrivileges", "PrivateTmp", "RestrictAddressFamilies", "MemoryMax"):
        assert key in unit, key
    assert unit["SystemCallFilter"][0] == "@system-service"


def test_unit_verifies(tmp_path: Path) -> None:
    """The committed file, unchanged, in a root where /opt/cryptoviz/bin/cryptoviz exists:
    verify checks that the commands are executables. It only warns on unknown keys or bad
    values, so any output is a failure."""
    tool = require_tool("systemd-analyze")
    units = next((d for d in UNIT_DIRS if (d / "sysinit.target").is_file()), None)
    assert units is not None, "systemd's own units (sysinit.target) not found"
    shutil.copytree(units, tmp_path / "usr/lib/systemd/system", symlinks=True)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, tmp_path / "etc/systemd/system")
    for path in ("bin/sh", "opt/cryptoviz/bin/cryptoviz"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("#!/bin/sh\nexit 0\n")
        (tmp_path / path).chmod(0o755)
    program = tmp_path / "opt/cryptoviz/bin/cryptoviz"
    verify = [tool, "verify", f"--root={tmp_path}", "cryptoviz.service"]
    result = subprocess.run(verify, capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    # The checks bite: a misspelt key only warns, and a missing executable fails.
    (tmp_path / "etc/systemd/system/cryptoviz.service").write_text(UNIT.read_text() + "MemoryMaxx=1G\n")
    assert "MemoryMaxx" in subprocess.run(verify, capture_output=True, text=True).stderr
    shutil.copy(UNIT, tmp_path / "etc/systemd/system")
    program.chmod(0o644)
    assert subprocess.run(verify, capture_output=True, text=True).returncode != 0


def exposure(tool: str, unit: Path) -> tuple[float, str]:
    result = subprocess.run(
        [tool, "security", "--offline=true", "--no-pager", str(unit)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert found is not None, result.stdout
    return float(found.group(1)), result.stdout


def test_unit_exposure(tmp_path: Path) -> None:
    tool = require_tool("systemd-analyze")
    rated, report = exposure(tool, UNIT)
    MEASURED.append(f"systemd-analyze security: exposure {rated} (at most {MAX_EXPOSURE})")
    assert rated <= MAX_EXPOSURE, report
    # The rating reads the file: the same service without its sandbox rates far worse.
    bare = tmp_path / "cryptoviz.service"
    bare.write_text("[Service]\nExecStart=/opt/cryptoviz/bin/cryptoviz serve\n")
    assert exposure(tool, bare)[0] > 5.0
