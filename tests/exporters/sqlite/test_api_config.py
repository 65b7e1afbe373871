"""The sqlite exporter's api, lease_s and sealing_cpu_share settings: validated with errors
naming their path."""

from __future__ import annotations

from typing import Any

import pytest

from trainwire.collector.component import Kind
from trainwire.collector.components import default_factories
from trainwire.collector.config import parse_config
from trainwire.errors import ConfigError


def _config(sqlite: dict[str, Any]) -> Any:
    """The sqlite exporter's config as the collector parses it."""
    config = parse_config(
        {
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
            "exporters": {"sqlite": {"path": "x.db", **sqlite}},
            "service": {"pipelines": {"metrics": {"receivers": ["otlp"], "exporters": ["sqlite"]}}},
        },
        default_factories(),
    )
    ((_, exporter),) = config.components[Kind.EXPORTER].items()
    return exporter


def test_api_defaults_to_port_8080_when_present_and_is_off_when_absent() -> None:
    """`api: {}` serves on localhost:8080 without a token; no `api` key, no server."""
    assert _config({}).api is None
    api = _config({"api": {}}).api
    assert api.endpoint == "localhost:8080" and api.read_token == ""
    assert _config({"api": None}).api.endpoint == "localhost:8080"


@pytest.mark.parametrize(
    ("sqlite", "message"),
    [
        (
            {"api": {"endpoint": "8080"}},
            "exporters::sqlite::api::endpoint: '8080' is not host:port",
        ),
        ({"api": {"endpoint": "h:99999"}}, "api::endpoint: 'h:99999': port 99999 is outside"),
        ({"api": {"read_token": " t "}}, "api::read_token: has leading or trailing spaces"),
        ({"api": {"port": 1}}, "api::port: unknown key"),
        ({"api": {"artifacts_directory": " "}}, "api::artifacts_directory: is blank"),
        ({"lease_s": -1}, "exporters::sqlite::lease_s: must be 0 (off) or more"),
        (
            {"sealing_cpu_share": 1.5},
            "exporters::sqlite::sealing_cpu_share: must be a share of one core from 0 (never"
            " seal) to 1 (no limit), e.g. 0.02; got 1.5",
        ),
        ({"sealing_cpu_share": -0.1}, "sealing_cpu_share: must be a share of one core"),
        ({"sealing_cpu_share": "fast"}, "sealing_cpu_share: expected a number, got str"),
    ],
)
def test_bad_api_settings_are_named(sqlite: dict[str, Any], message: str) -> None:
    """Each problem is reported with its full path and what to write instead."""
    with pytest.raises(ConfigError) as caught:
        _config(sqlite)
    assert message in str(caught.value)
