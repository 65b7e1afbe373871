"""Every mode and every ci/*-values.yaml scenario renders manifests Kubernetes accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
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
    1.29 and of the newest release kubernetes-validate knows (a ServiceMonitor against the
    fields of prometheus-operator's CRD)."""
    docs = render(_values(scenario))
    assert docs
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a custom resource: its CRD's fields, below
            jsonschema.validate(doc, SERVICE_MONITOR_SCHEMA)
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


def _pod_templates(docs: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{doc['kind']} {doc['metadata']['name']}", doc["spec"]["template"]["spec"])
        for doc in docs
        if doc["kind"] in {"Deployment", "DaemonSet", "Job"}
    ]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_collector_writes_only_to_its_volumes(scenario: Path, render: Any) -> None:
    """Each collector container runs on a read-only root and has what it writes mounted: the
    data directory, and /tmp as an emptyDir (SQLite's and Python's temporary files, for the
    collector and its store-writer process)."""
    templates = _pod_templates(render(_values(scenario)))
    assert templates
    for where, spec in templates:
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        containers = spec.get("initContainers", []) + spec["containers"]
        collectors = [c for c in containers if "--config" in c.get("args", [])]
        assert collectors, where
        for container in collectors:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            for path in ("/tmp", "/var/lib/trainwire"):
                assert path in mounts, f"{where}: {container['name']} has no volume at {path}"
                assert not mounts[path].get("readOnly"), f"{where}: {path} is read-only"
            assert "emptyDir" in volumes[mounts["/tmp"]["name"]], where


# The part of monitoring.coreos.com/v1 ServiceMonitor (prometheus-operator's CRD) the chart
# renders; each object refuses fields it does not list, as the CRD's structural schema does.
_DURATION = (
    "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "labels": _LABELS},
        },
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": _LABELS},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": _DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                            "honorLabels": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}


@pytest.mark.parametrize(
    "values",
    [
        {"serviceMonitor": {"enabled": True}},
        {
            "serviceMonitor": {"enabled": True, "interval": "1m30s"},
            "gateway": {"prometheus": {"enabled": False}},
        },
        {
            "mode": "agent",
            "agent": {"gatewayEndpoint": "gw:4317"},
            "serviceMonitor": {"enabled": True},
        },
    ],
    ids=["gateway", "gateway-without-prometheus", "agent"],
)
def test_service_monitor_fits_the_crd(render: Any, values: dict[str, Any]) -> None:
    """The ServiceMonitor has the fields prometheus-operator's CRD accepts, and each endpoint
    names a port of the Service it selects."""
    docs = render(values)
    monitor = docs.one("ServiceMonitor")
    jsonschema.validate(monitor, SERVICE_MONITOR_SCHEMA)
    service = docs.one("Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports


def test_service_monitor_interval_is_checked(chart: Any) -> None:
    """An interval Prometheus cannot read is refused by the values schema, naming the key."""
    with pytest.raises(helm.HelmValuesError, match="serviceMonitor/interval"):
        chart.validate_schema({"serviceMonitor": {"interval": "30 seconds"}})
