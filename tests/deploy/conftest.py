"""Render the Helm chart offline (helm-python-sdk: Helm's Go library, no binary, no cluster),
and read the Dockerfile (there is no Docker engine here)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "trainwire"
RELEASE = "trainwire"
NAMESPACE = "ml"
DOCKERFILE = REPO / "Dockerfile"


class Manifests(list[dict[str, Any]]):
    """A rendered release: its manifests as dicts, with lookups by kind."""

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """The manifests of one kind."""
        return [doc for doc in self if doc["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        """The one manifest of this kind."""
        (doc,) = self.of_kind(kind)
        return doc

    def config_text(self) -> str:
        """The collector config (config.yaml) the release's ConfigMap holds."""
        (configmap,) = [d for d in self.of_kind("ConfigMap") if "config.yaml" in d["data"]]
        text: str = configmap["data"]["config.yaml"]
        return text

    def config(self) -> dict[str, Any]:
        """The collector config, parsed."""
        config: dict[str, Any] = yaml.safe_load(self.config_text())
        return config


Render = Callable[..., Manifests]


@pytest.fixture(scope="session")
def chart() -> Any:
    """The chart, loaded once."""
    helm = pytest.importorskip(
        "helm_python",
        reason="helm-python-sdk (Helm's library, x86-64 Linux only) is not installed:"
        " pip install -e '.[dev]'",
    )
    return helm.Chart.load(CHART)


@pytest.fixture(scope="session")
def render(chart: Any) -> Render:
    """Render the chart with these values, as Helm install would (offline)."""

    def _render(values: dict[str, Any] | None = None, *, name: str = RELEASE) -> Manifests:
        out = chart.render(values or {}, name=name, namespace=NAMESPACE, is_install=True)
        docs = Manifests()
        for path, text in sorted(out.items()):
            if not path.endswith("NOTES.txt"):
                docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return docs

    return _render


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

    def shipped_config(self) -> tuple[str, Path]:
        """The config path CMD names, and the repository file COPY puts there."""
        cmd = self.exec_form("CMD")
        in_image = cmd[cmd.index("--config") + 1]
        for args in self.all("COPY"):
            source, destination = args.split()[-2:]
            if destination == in_image and not args.startswith("--"):
                return in_image, REPO / source
        raise AssertionError(f"no COPY puts a file at {in_image}, the config CMD names")


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


@pytest.fixture(scope="session")
def stages() -> list[Stage]:
    """The Dockerfile's stages: build, then runtime."""
    return parse_dockerfile(DOCKERFILE.read_text())
