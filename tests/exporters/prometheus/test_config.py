"""Config of the prometheus exporter: defaults, testdata files, every problem by path."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from trainwire.collector.component import ComponentID, Kind
from trainwire.collector.components import default_factories
from trainwire.collector.config import load_config
from trainwire.errors import ConfigError
from trainwire.exporters.prometheus import PrometheusExporter, PrometheusExporterConfig

from .conftest import Host

TESTDATA = Path(__file__).parent / "testdata"


def test_defaults_follow_the_collector() -> None:
    """Port 9464, five minutes of expiry, 50,000 series, suffixes on, host.name copied."""
    config = PrometheusExporterConfig()
    assert config.endpoint == "localhost:9464"
    assert (config.metric_expiration_s, config.max_series) == (300.0, 50_000)
    assert config.add_metric_suffixes and config.resource_to_labels == ["host.name"]
    assert config.validate() == []


def test_valid_file_loads_every_setting() -> None:
    """The valid testdata file sets every key."""
    config = load_config(TESTDATA / "valid.yaml", default_factories())
    exporter = config.components[Kind.EXPORTER][ComponentID("prometheus")]
    assert exporter == PrometheusExporterConfig(
        endpoint="0.0.0.0:9464",
        namespace="trainwire",
        const_labels={"cluster": "a100-pool"},
        metric_expiration_s=120.0,
        max_series=20000,
        add_metric_suffixes=False,
        resource_to_labels=["host.name", "k8s.pod.name"],
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "typo.yaml",
            [
                "exporters::prometheus::metric_expiration: unknown key;"
                " did you mean 'metric_expiration_s'?"
            ],
        ),
        (
            "invalid.yaml",
            [
                "exporters::prometheus::endpoint: 'localhost' is not host:port",
                "exporters::prometheus::namespace: '9lives' is not a metric name prefix",
                "exporters::prometheus::const_labels::__reserved: not a Prometheus label name",
                "exporters::prometheus::const_labels::bad-label: not a Prometheus label name",
                "exporters::prometheus::metric_expiration_s: must be more than 0",
                "exporters::prometheus::max_series: must be at least 1",
                "exporters::prometheus::resource_to_labels: '' is not a resource attribute key",
                "exporters::prometheus/types::max_series: expected an integer",
            ],
        ),
    ],
)
def test_testdata_files_fail_naming_each_problem(name: str, expected: list[str]) -> None:
    """A typo and an invalid file fail with one line per problem, each starting with its path."""
    with pytest.raises(ConfigError) as info:
        load_config(TESTDATA / name, default_factories())
    problems = info.value.problems
    for line in expected:
        assert any(p.startswith(line) for p in problems), f"{line!r} not in {problems}"
    assert len(problems) == len(expected)


def test_a_taken_port_fails_start_naming_the_endpoint(tmp_path: Path) -> None:
    """Starting on a port already in use raises an error that names the exporter and endpoint."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = PrometheusExporterConfig(endpoint=f"127.0.0.1:{port}")
        exporter = PrometheusExporter(config, id=ComponentID("prometheus"))
        with pytest.raises(OSError, match=f"prometheus: cannot listen on 127.0.0.1:{port}"):
            asyncio.run(exporter.start(Host()))
        asyncio.run(exporter.shutdown())
