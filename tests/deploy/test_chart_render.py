"""Every mode and every ci/*-values.yaml scenario renders manifests Kubernetes accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from trainwire.collector.cli import collector

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed: pip install -e '.[dev]'"
)
helm = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")

CHART = Path(__file__).resolve().parents[2] / "helm" / "trainwire"
SCENARIOS = sorted(CHART.glob("ci/*-values.yaml"))
# The oldest Kubernetes the chart supports (native sidecars) and the newest kubernetes-validate
# knows: their schemas, strict (unknown fields are errors).
KUBE_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
# Custom resources Kubernetes' own schemas do not describe.
CRDS = {"ServiceMonitor"}
# Stand-ins for the Secrets' values, in the shape each setting checks.
DUMMY_ENV = {"DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/123/dummy-token"}
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)")


def _values(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(path.read_text())
    return values


def test_there_is_a_scenario_for_each_mode() -> None:
    """ci/ holds at least one values file for each of gateway, agent and sidecar."""
    modes = {_values(path)["mode"] for path in SCENARIOS}
    assert modes == {"gateway", "agent", "sidecar"}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_scenario_renders_manifests_valid_for_kubernetes(scenario: Path, render: Any) -> None:
    """Each scenario renders, and each manifest validates against the schemas of Kubernetes
    1.29 and of the newest release kubernetes-validate knows."""
    docs = render(_values(scenario))
    assert docs
    for doc in docs:
        if doc["kind"] in CRDS:
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = ".".join(str(p) for p in exc.path)
                pytest.fail(
                    f"{doc['kind']} {doc['metadata']['name']} ({version}): {where}: {exc.message}"
                )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_scenario_passes_helm_lint(scenario: Path) -> None:
    """helm lint (strict, with the values schema) reports no warning or error for the scenario."""
    report = helm.lint(CHART, _values(scenario), strict=True, kube_version="v1.29.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [] and report["errors"] == []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_rendered_collector_config_passes_collector_validate(
    scenario: Path, render: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config each scenario renders passes `trainwire collector validate`, and every
    ${env:VAR} it reads is set on the container that runs it."""
    docs = render(_values(scenario))
    text = docs.config_text()
    needed = set(_ENV_REF.findall(text))
    given = _container_env(docs)
    assert needed <= given, f"the config reads {sorted(needed - given)} but no container sets them"
    for name in needed:
        monkeypatch.setenv(name, DUMMY_ENV.get(name, f"dummy-{name.lower()}"))
    if "/hostfs" in text:
        # The agent's hostPath mount of the host's /: here, a directory whose proc is ours.
        hostfs = tmp_path / "hostfs"
        hostfs.mkdir()
        (hostfs / "proc").symlink_to("/proc")
        text = text.replace("/hostfs", str(hostfs))
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = CliRunner().invoke(collector, ["validate", "--config", str(path)])
    assert result.exit_code == 0, result.output


def _container_env(docs: Any) -> set[str]:
    names = set()
    for doc in docs:
        template = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in template.get("containers", []) + template.get("initContainers", []):
            names.update(env["name"] for env in container.get("env", []))
    return names
