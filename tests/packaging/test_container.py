"""Containerfile: pinned bases, a non-root user, a health check, the volume and the port, and
its build steps replayed on the host (no container engine here), then the result started
with the image's environment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cryptoviz.config import load_config
from tests.conftest import REPO
from tests.packaging.containerfile import Stage, exec_form, host_path, replay, run_env, stages
from tests.packaging.process import clean_env, free_port, require_tool, serving

SCRIPTS = REPO / "scripts" / "container"
PINNED = re.compile(r"^[\w./-]+:\d+\.\d+\.\d+-[\w.-]+(@sha256:[0-9a-f]{64})?$")
OFFLINE_PLUGINS = '["simulator", "trades", "candles", "dashboard"]'


def healthcheck_command(stage: Stage) -> list[str]:
    (line,) = stage.args("HEALTHCHECK")
    _options, _, command = line.partition("CMD ")
    return exec_form(command)


def test_containerfile_shape() -> None:
    web, *python, final = stages()
    for stage in (web, *python, final):
        assert PINNED.match(stage.image), f"{stage.image}: pin an exact version"
    assert web.image.startswith("node:22.")
    assert all(re.match(r"python:3\.12\.\d+-slim-bookworm$", s.image) for s in (*python, final))
    assert final.args("USER"), "the runtime stage sets no USER"
    assert final.args("USER")[-1].split(":")[0] not in {"root", "0"}
    assert final.args("EXPOSE") == ["8080"]
    assert final.args("VOLUME") == ["/var/lib/cryptoviz"]
    assert healthcheck_command(final)[-1].endswith("healthcheck.py")
    assert exec_form(final.args("ENTRYPOINT")[0]) == ["cryptoviz"]
    assert exec_form(final.args("CMD")[0]) == ["serve"]
    config = load_config(None, environ=final.env())  # every CRYPTOVIZ_ variable is a real key
    assert config.server.host == "0.0.0.0"
    assert config.server.port == 8080
    assert config.storage.sqlite_path.startswith("/var/lib/cryptoviz/")


def test_every_run_step_calls_a_script_of_the_repository() -> None:
    for stage in stages():
        for run in stage.args("RUN"):
            script = Path(run.split(" ")[0]).name
            assert (SCRIPTS / script).is_file(), f"RUN {run}: not a script of scripts/container"
            assert os.access(SCRIPTS / script, os.X_OK), script


@pytest.mark.slow
def test_container_steps_build_and_run_on_the_host(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        message = "the user step (useradd, chown) needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    for tool in ("node", "npm", "useradd", "groupadd"):
        require_tool(tool)
    web, build, final = stages()
    roots = {"web": tmp_path / "web", "build": tmp_path / "build"}
    root = roots["build"]  # the runtime stage only adds paths the build stage leaves alone
    # Stand-ins for what the base images hold: the installed packages of web/ (a build cache
    # would), and Debian's user database.
    if (REPO / "web" / "node_modules").is_dir():
        shutil.copytree(REPO / "web" / "node_modules", roots["web"] / "src/web/node_modules", symlinks=True)
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        shutil.copy2(f"/etc/{name}", root / "etc" / name)
    env = {**clean_env(), "PYTHON": sys.executable}
    ran = replay(web, roots, roots["web"], env) + replay(build, roots, root, env)
    ran += replay(final, roots, root, env)
    assert {Path(r.split(" ")[0]).name for r in ran} == {p.name for p in SCRIPTS.glob("*.sh")}

    (wheel,) = (root / "wheels").glob("cryptoviz-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert "cryptoviz/static/dashboard/index.html" in zf.namelist()
    passwd = (root / "etc" / "passwd").read_text()
    assert "cryptoviz:x:10001:10001::/var/lib/cryptoviz:/usr/sbin/nologin" in passwd
    state = root / "var" / "lib" / "cryptoviz"
    assert (state.stat().st_uid, state.stat().st_mode & 0o777) == (10001, 0o750)
    assert not (root / "tmp" / "add-user.sh").exists()

    port = free_port()
    image_env = run_env(final, root)
    env = {k: v for k, v in image_env.items() if not k.startswith("CRYPTOVIZ_") or k in final.env()}
    env.update(CRYPTOVIZ_SERVER__PORT=str(port), CRYPTOVIZ_PLUGINS__ENABLED=OFFLINE_PLUGINS)
    program = shutil.which(exec_form(final.args("ENTRYPOINT")[0])[0], path=env["PATH"])
    assert program is not None
    assert program.startswith(str(root))
    checked = subprocess.run([program, "check-config"], env=env, capture_output=True, text=True, check=True)
    assert 'host = "0.0.0.0"' in checked.stdout
    assert f'sqlite_path = "{state}/cryptoviz.db"' in checked.stdout
    healthcheck = [host_path(root, arg) for arg in healthcheck_command(final)]
    workdir = Path(host_path(root, final.args("WORKDIR")[-1]))
    command = [program, *exec_form(final.args("CMD")[0])]
    with serving(command, port, env, workdir) as server:
        server.wait_ready()
        assert server.http.get("/health").json()["data"]["status"] == "ok"
        assert server.http.get("/").status_code == 200
        healthy = subprocess.run(healthcheck, env=env, capture_output=True, text=True)
        assert healthy.returncode == 0, healthy.stderr
        assert server.terminate() == 0, server.output()
    unhealthy = subprocess.run(healthcheck, env=env, capture_output=True, text=True)
    assert unhealthy.returncode == 1
    assert "unhealthy" in unhealthy.stderr
    assert (state / "cryptoviz.db").is_file()
