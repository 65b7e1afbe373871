"""Liveness connector config: defaults, the timeout's minimum, and whole files with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trainwire.collector import Graph, Kind, Signal, default_factories, load_config
from trainwire.collector.component import ComponentID
from trainwire.collector.confmap import decode
from trainwire.collector.connectors.liveness import LivenessConfig, LivenessConnector, factory
from trainwire.errors import ConfigError

TESTDATA = Path(__file__).parent / "testdata"
PATH = "connectors::liveness"


def _problems(settings: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    decode(LivenessConfig, settings, PATH, problems)
    return problems


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({}, [], id="defaults"),
        pytest.param({"heartbeat_timeout_s": 45}, [], id="timeout-at-minimum"),
        pytest.param(
            {"heartbeat_timeout_s": 44},
            [
                f"{PATH}::heartbeat_timeout_s: must be at least 4 × heartbeat_interval_s +"
                " sdk_max_backoff_s = 45 s, got 44; a shorter one declares live runs crashed"
            ],
            id="timeout-below-minimum",
        ),
        pytest.param(
            {"heartbeat_interval_s": 0.5, "sdk_max_backoff_s": 0.5, "heartbeat_timeout_s": 2},
            [
                f"{PATH}::heartbeat_timeout_s: must be at least 4 × heartbeat_interval_s +"
                " sdk_max_backoff_s = 2.5 s, got 2; a shorter one declares live runs crashed"
            ],
            id="short-interval-timeout-below-minimum",
        ),
        pytest.param({"heartbeat_interval_s": 30}, [], id="default-timeout-follows-interval"),
        pytest.param(
            {"heartbeat_interval_s": 0},
            [f"{PATH}::heartbeat_interval_s: must be more than 0"],
            id="interval-zero",
        ),
        pytest.param(
            {"sdk_max_backoff_s": -1},
            [f"{PATH}::sdk_max_backoff_s: must be 0 or more"],
            id="backoff-negative",
        ),
        pytest.param(
            {"check_interval_s": 0},
            [f"{PATH}::check_interval_s: must be more than 0"],
            id="check-interval-zero",
        ),
        pytest.param({"stall_timeout_s": 0}, [], id="stall-off"),
        pytest.param(
            {"stall_timeout_s": 5},
            [
                f"{PATH}::stall_timeout_s: must be 0 (off) or at least 2 × heartbeat_interval_s"
                " = 20 s, since progress is reported once a heartbeat"
            ],
            id="stall-shorter-than-two-heartbeats",
        ),
        pytest.param(
            {"stall_timeout_s": -1},
            [f"{PATH}::stall_timeout_s: must be 0 (off) or more"],
            id="stall-negative",
        ),
        pytest.param(
            {"storage": "storage/"},
            [f"{PATH}::storage: 'storage/' is not a component id of the form type[/name]"],
            id="storage-malformed",
        ),
        pytest.param(
            {"heartbeat_timeout_s": "soon"},
            [f"{PATH}::heartbeat_timeout_s: expected a number, got str 'soon'"],
            id="timeout-not-a-number",
        ),
    ],
)
def test_config_problems_are_named(settings: dict[str, Any], expected: list[str]) -> None:
    """Each invalid setting gets one line naming its path, the limit and the value given."""
    assert _problems(settings) == expected


def test_default_timeout_is_four_heartbeats_plus_the_sdk_backoff() -> None:
    """Unset, heartbeat_timeout_s is 4 × heartbeat_interval_s + sdk_max_backoff_s (45 s by default)."""
    assert LivenessConfig().timeout_s == 45.0
    assert LivenessConfig(heartbeat_interval_s=30).timeout_s == 125.0
    assert LivenessConfig(heartbeat_timeout_s=90).timeout_s == 90.0


def test_factory_declares_a_metrics_and_logs_connector_that_emits_logs() -> None:
    """The liveness factory is a connector taking metrics and logs and feeding logs pipelines."""
    assert (factory.type, factory.kind) == ("liveness", Kind.CONNECTOR)
    assert factory.signals == {Signal.METRICS, Signal.LOGS}
    assert factory.emits == {Signal.LOGS}
    assert "liveness" in default_factories()[Kind.CONNECTOR]


def test_valid_file_wires_the_connector_between_pipelines() -> None:
    """In the valid file the connector is created once, fed by metrics and logs, feeding the store."""
    config = load_config(TESTDATA / "valid.yaml", default_factories())
    graph = Graph(config)

    connector = graph.connectors[ComponentID("liveness")]
    assert isinstance(connector, LivenessConnector)
    assert connector.config == LivenessConfig(
        storage="storage", heartbeat_timeout_s=60.0, check_interval_s=5.0
    )
    assert config.telemetry.metrics.address == "127.0.0.1:0"


def test_typo_file_names_the_key_and_suggests_the_fix() -> None:
    """A misspelt liveness key is named by path with the nearest valid key suggested."""
    with pytest.raises(ConfigError) as info:
        load_config(TESTDATA / "typo.yaml", default_factories())
    [problem] = info.value.problems
    assert problem.startswith(
        f"{PATH}::heartbeat_timout_s: unknown key; did you mean 'heartbeat_timeout_s'?"
    )


def test_invalid_file_reports_every_problem_at_once() -> None:
    """Liveness, health_check and self-telemetry problems of one file come in one ConfigError."""
    with pytest.raises(ConfigError) as info:
        load_config(TESTDATA / "invalid.yaml", default_factories())
    assert info.value.problems == [
        f"{PATH}::heartbeat_timeout_s: must be at least 4 × heartbeat_interval_s +"
        " sdk_max_backoff_s = 45 s, got 30; a shorter one declares live runs crashed",
        f"{PATH}::check_interval_s: must be more than 0",
        f"{PATH}::stall_timeout_s: must be 0 (off) or at least 2 × heartbeat_interval_s = 20 s,"
        " since progress is reported once a heartbeat",
        "extensions::health_check::endpoint: 'localhost' is not host:port, e.g. localhost:4317",
        "extensions::health_check::path: must start with '/', e.g. /health (got 'health')",
        "service::telemetry::metrics::address: 'localhost:http': port 'http' is not a number",
    ]
