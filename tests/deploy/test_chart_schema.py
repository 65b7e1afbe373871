"""values.schema.json refuses unknown keys at every level, Kubernetes-typed values included.

The values that are passed into pod specs as they are (securityContext, affinity,
tolerations, extraEnv, resources, ...) carry Kubernetes' own schema for that type, so a
typo there (`readOnlyRootFileSystem`) fails `helm install` instead of being dropped by the
API server. Those parts of the schema are generated from kubernetes-validate's copy of
the Kubernetes schemas; after changing the chart's schema or KUBE_VERSION, rewrite them:

    python tests/deploy/test_chart_schema.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

CHART = Path(__file__).resolve().parents[2] / "helm" / "trainwire"
SCHEMA = CHART / "values.schema.json"
# The Kubernetes release whose field lists the chart's schema carries (a newer one keeps the
# older fields; the render tests check the manifests against 1.29 too).
KUBE_VERSION = "1.37.0"
# Where in the values each Kubernetes type goes (a path of property names; [] is "items").
KUBERNETES_TYPES = {
    ("imagePullSecrets", "[]"): "io.k8s.api.core.v1.LocalObjectReference",
    ("affinity",): "io.k8s.api.core.v1.Affinity",
    ("tolerations", "[]"): "io.k8s.api.core.v1.Toleration",
    ("resources",): "io.k8s.api.core.v1.ResourceRequirements",
    ("podSecurityContext",): "io.k8s.api.core.v1.PodSecurityContext",
    ("securityContext",): "io.k8s.api.core.v1.SecurityContext",
    ("extraEnv", "[]"): "io.k8s.api.core.v1.EnvVar",
    ("gateway", "ingress", "tls", "[]"): "io.k8s.api.networking.v1.IngressTLS",
    ("sidecar", "resources"): "io.k8s.api.core.v1.ResourceRequirements",
}
# Objects whose keys are the user's: Helm's globals of a parent chart, and the settings of
# collector components in the config overlay (which `trainwire collector validate` checks,
# strictly, when the pod starts).
FREE_FORM = {
    ("global",),
    ("config", "service", "telemetry"),
    *(
        ("config", section, "*")
        for section in ("receivers", "processors", "exporters", "connectors", "extensions")
    ),
}
_KEPT = {"type", "properties", "additionalProperties", "items", "enum", "required", "oneOf"}


def kubernetes_schema(definition: str) -> dict[str, Any]:
    """The strict schema of one Kubernetes type, references inlined, descriptions dropped."""
    import kubernetes_validate

    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    strict = root / f"v{KUBE_VERSION}-local-strict" / "_definitions.json"
    definitions = json.loads(strict.read_text())["$defs"]

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return inline(definitions[node["$ref"].rsplit("/", 1)[1]])
        return {
            key: {k: inline(v) for k, v in value.items()} if key == "properties" else inline(value)
            for key, value in node.items()
            if key in _KEPT
        }

    result: dict[str, Any] = inline(definitions[definition])
    return result


def _node(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for part in path:
        schema = schema["items"] if part == "[]" else schema["properties"][part]
    return schema


def _objects(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every schema node that describes an object, with its path."""
    if not isinstance(node, dict):
        return []
    found = []
    kind = node.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node:
        found.append((path, node))
    for name, child in node.get("properties", {}).items():
        found += _objects(child, (*path, name))
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found += _objects(node[key], (*path, "[]" if key == "items" else "*"))
    for child in node.get("oneOf", []):
        found += _objects(child, path)
    return found


def test_every_object_refuses_unknown_keys() -> None:
    """Each object in the schema lists its keys (additionalProperties: false) or is a map
    whose values have a schema (labels, annotations); only globals and config are open."""
    schema = json.loads(SCHEMA.read_text())
    open_objects = [
        "/".join(path)
        for path, node in _objects(schema)
        if path not in FREE_FORM and not isinstance(node.get("additionalProperties"), dict)
        if node.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_config_overlay_has_the_collector_configs_shape(chart: Any, render: Any) -> None:
    """`config:` takes the sections of a collector config (those the chart renders) and the
    keys of service and its pipelines; a misplaced key fails before anything is installed."""
    import helm_python

    schema = json.loads(SCHEMA.read_text())["properties"]["config"]
    rendered = render({}).config()
    assert set(schema["properties"]) == set(rendered)
    assert set(schema["properties"]["service"]["properties"]) == set(rendered["service"])
    with pytest.raises(helm_python.HelmValuesError, match="'exporter'"):
        chart.validate_schema({"config": {"exporter": {"sqlite": {}}}})
    with pytest.raises(helm_python.HelmValuesError, match="'exporter'"):
        pipelines = {"metrics": {"exporter": ["sqlite"]}}
        chart.validate_schema({"config": {"service": {"pipelines": pipelines}}})


@pytest.mark.parametrize("path", sorted(KUBERNETES_TYPES), ids="/".join)
def test_kubernetes_typed_values_carry_the_kubernetes_schema(path: tuple[str, ...]) -> None:
    """The schema of each Kubernetes-typed value is that type's strict schema."""
    pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed")
    schema = json.loads(SCHEMA.read_text())
    expected = kubernetes_schema(KUBERNETES_TYPES[path])
    assert _node(schema, path) == expected, (
        "values.schema.json is out of date: python tests/deploy/test_chart_schema.py"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"securityContext": {"readOnlyRootFileSystem": True}}, "'readOnlyRootFileSystem'"),
        ({"podSecurityContext": {"runAsUser": "10001"}}, "/podSecurityContext/runAsUser"),
        ({"extraEnv": [{"name": "A", "valu": "1"}]}, "'valu'"),
        ({"tolerations": [{"key": "gpu", "efect": "NoSchedule"}]}, "'efect'"),
        ({"resources": {"limit": {"memory": "1Gi"}}}, "'limit'"),
        ({"affinity": {"nodeAffinity": {"required": {}}}}, "'required'"),
        ({"sidecar": {"resources": {"limits": {"memory": ["1Gi"]}}}}, "/sidecar/resources"),
    ],
    ids=["typo", "wrong-type", "env", "toleration", "resources", "nested-affinity", "quantity"],
)
def test_schema_refuses_bad_kubernetes_values(
    chart: Any, values: dict[str, Any], message: str
) -> None:
    """A misspelt or mistyped field inside a Kubernetes-typed value fails before install."""
    import helm_python

    with pytest.raises(helm_python.HelmValuesError) as info:
        chart.validate_schema(values)
    assert message in str(info.value)


def _rewrite() -> None:
    """Write the Kubernetes types' schemas into values.schema.json."""
    schema = json.loads(SCHEMA.read_text())
    for path, definition in KUBERNETES_TYPES.items():
        *parent, last = path
        holder = _node(schema, tuple(parent))
        if last == "[]":
            holder["items"] = kubernetes_schema(definition)
        else:
            holder["properties"][last] = kubernetes_schema(definition)
    SCHEMA.write_text(json.dumps(schema, indent=2) + "\n")


if __name__ == "__main__":
    _rewrite()
    sys.exit(0)
