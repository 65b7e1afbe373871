"""values.schema.json and the chart's own checks refuse bad values with a message that says why."""

from __future__ import annotations

from typing import Any

import pytest

helm = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicas": 1}, "additional properties 'replicas' not allowed"),
        ({"gateway": {"persistance": {"size": "1Gi"}}}, "additional properties 'persistance'"),
        ({"discord": {"webhook_url": "x"}}, "additional properties 'webhook_url'"),
        ({"gateway": {"replicas": 2}}, "at '/gateway/replicas': value must be 1"),
        (
            {"gateway": {"strategy": "RollingUpdate"}},
            "at '/gateway/strategy': value must be 'Recreate'",
        ),
        (
            {"gateway": {"persistence": {"accessMode": "ReadWriteMany"}}},
            "at '/gateway/persistence/accessMode': value must be 'ReadWriteOnce'",
        ),
        ({"mode": "statefulset"}, "at '/mode': value must be one of 'gateway', 'agent', 'sidecar'"),
        ({"discord": {"mode": "thread"}}, "at '/discord/mode'"),
        ({"logLevel": "verbose"}, "at '/logLevel'"),
        ({"agent": {"queue": {"hostPath": "var/queue"}}}, "at '/agent/queue/hostPath'"),
    ],
    ids=[
        "unknown-top-level-key",
        "typo-nested-key",
        "snake-case-key",
        "two-gateway-replicas",
        "rolling-update",
        "read-write-many",
        "unknown-mode",
        "unknown-discord-mode",
        "unknown-log-level",
        "relative-queue-path",
    ],
)
def test_schema_rejects_bad_values(chart: Any, values: dict[str, Any], message: str) -> None:
    """The schema refuses unknown keys and unsafe settings, naming the key."""
    with pytest.raises(helm.HelmValuesError) as info:
        chart.validate_schema(values)
    assert message in str(info.value)


def test_render_refuses_values_the_schema_rejects(chart: Any) -> None:
    """Rendering (what helm install does) refuses two gateway replicas before anything is made."""
    with pytest.raises(helm.HelmValuesError, match="value must be 1"):
        chart.render({"gateway": {"replicas": 2}}, name="trainwire", namespace="ml")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mode": "agent"}, "agent mode needs agent.gatewayEndpoint"),
        ({"mode": "sidecar"}, "sidecar mode needs sidecar.gatewayEndpoint"),
        (
            {"discord": {"enabled": True}},
            "discord.enabled needs discord.webhookUrl or discord.existingSecret",
        ),
        (
            {
                "mode": "agent",
                "agent": {"gatewayEndpoint": "gw:4317"},
                "discord": {"enabled": True, "webhookUrl": "x"},
            },
            "set discord.enabled only with mode: gateway",
        ),
        (
            {"gateway": {"api": {"enabled": False}, "ingress": {"enabled": True}}},
            "it needs gateway.api.enabled: true",
        ),
    ],
    ids=[
        "agent-without-gateway",
        "sidecar-without-gateway",
        "discord-without-webhook",
        "discord-on-agent",
        "ingress-without-api",
    ],
)
def test_render_names_the_missing_setting(chart: Any, values: dict[str, Any], message: str) -> None:
    """Values that fit the schema but not each other fail the render with what to set."""
    with pytest.raises(helm.HelmRenderError) as info:
        chart.render(values, name="trainwire", namespace="ml")
    assert message in str(info.value)


def test_defaults_pass_the_schema(chart: Any) -> None:
    """The chart's own values.yaml fits its schema (the schema lists every default key)."""
    chart.validate_schema({})
    chart.validate_schema(chart.values)
