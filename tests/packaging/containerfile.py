"""The Containerfile read as stages of instructions, and its steps replayed on the host: each
stage's filesystem is a folder, COPY copies from the checkout (minus .containerignore) or
from an earlier stage's folder, RUN runs in bash with the image's paths moved under it."""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import REPO

CONTAINERFILE = REPO / "Containerfile"
# Paths that exist only in the image; on the host they live under the stage's folder.
IMAGE_PATHS = ("/src", "/wheels", "/opt/cryptoviz", "/var/lib/cryptoviz", "/tmp/add-user.sh")


@dataclass
class Stage:
    image: str
    name: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.steps if i == instruction]

    def env(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in self.args("ENV"):
            found.update(pair.split("=", 1) for pair in shlex.split(line))
        return found


def stages(text: str | None = None) -> list[Stage]:
    text = CONTAINERFILE.read_text() if text is None else text
    logical = text.replace("\\\n", " ")
    found: list[Stage] = []
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), " ".join(rest.split())
        if instruction == "FROM":
            image, _, name = rest.partition(" AS ")
            found.append(Stage(image.strip(), name.strip()))
        else:
            found[-1].steps.append((instruction, rest))
    return found


def exec_form(value: str) -> list[str]:
    """A JSON-array instruction argument (CMD, ENTRYPOINT, HEALTHCHECK ... CMD)."""
    parsed = json.loads(value)
    assert isinstance(parsed, list), value
    return [str(v) for v in parsed]


def ignored_patterns() -> list[str]:
    lines = (REPO / ".containerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rules as far as .containerignore uses them: a pattern is matched against the path
    from the root, and `**/` matches at any depth."""
    name = relative.rsplit("/", 1)[-1]
    deep = [p.removeprefix("**/") for p in patterns if p.startswith("**/")]
    return any(fnmatch.fnmatch(relative, p) for p in patterns) or any(fnmatch.fnmatch(name, p) for p in deep)


def host_path(root: Path, image_path: str) -> str:
    """An image path under the stage's folder; "/" is the folder itself."""
    if image_path == "/":
        return str(root)
    if image_path.startswith(IMAGE_PATHS):
        return str(root) + image_path
    return image_path


def _copy(source: Path, target: Path, patterns: list[str] | None) -> None:
    if source.is_dir():

        def ignore(folder: str, names: list[str]) -> set[str]:
            if patterns is None:
                return set()
            base = Path(folder).relative_to(REPO).as_posix()
            return {n for n in names if _ignored(n if base == "." else f"{base}/{n}", patterns)}

        shutil.copytree(source, target, symlinks=True, ignore=ignore, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


def replay(stage: Stage, roots: dict[str, Path], root: Path, env: dict[str, str]) -> list[str]:
    """Run the stage's COPY and RUN steps with `root` as its filesystem; the commands run."""
    patterns = ignored_patterns()
    workdir = "/"
    ran: list[str] = []
    for instruction, rest in stage.steps:
        if instruction == "WORKDIR":
            workdir = rest
            Path(host_path(root, workdir)).mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            *sources, dest = rest.split(" ")
            origin = None
            if sources[0].startswith("--from="):
                origin = roots[sources.pop(0).removeprefix("--from=")]
            for source in sources:
                target = Path(host_path(root, dest)) / (Path(source).name if dest.endswith("/") else "")
                if origin is None:
                    assert not _ignored(source, patterns), f"COPY {source}: excluded by .containerignore"
                    _copy(REPO / source, target, patterns)
                elif host_path(origin, source) != str(target):  # same folder, same path: already there
                    _copy(Path(host_path(origin, source)), target, None)
        elif instruction == "RUN":
            command = " ".join(host_path(root, token) for token in rest.split(" "))
            subprocess.run(["bash", "-c", command], cwd=host_path(root, workdir), env=env, check=True)
            ran.append(rest)
    return ran


def run_env(stage: Stage, root: Path) -> dict[str, str]:
    """The host environment with the stage's ENV over it, image paths moved under `root`."""
    env = dict(os.environ)
    for key, value in stage.env().items():
        if key == "PATH":
            value = ":".join(host_path(root, p) for p in value.replace("$PATH", env["PATH"]).split(":"))
        env[key] = host_path(root, value)
    return env
