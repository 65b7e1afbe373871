"""Render the Helm chart offline (helm-python-sdk: Helm's Go library, no binary, no cluster)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "trainwire"
RELEASE = "trainwire"
NAMESPACE = "ml"


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
