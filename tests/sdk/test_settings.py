"""Where the SDK sends data: argument, then TRAINWIRE_*, then OTEL_*, then embedded."""

from __future__ import annotations

import pytest

import trainwire
from trainwire import settings
from trainwire.transports.grpc import parse_grpc_endpoint


def test_trainwire_endpoint_wins_over_otel_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """TRAINWIRE_ENDPOINT is used even when OTEL_EXPORTER_OTLP_ENDPOINT is set for tracing."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://tracing:4317")
    monkeypatch.setenv("TRAINWIRE_ENDPOINT", "collector:4317")
    assert settings.resolve_endpoint(None) == "collector:4317"
    assert settings.resolve_endpoint("explicit:1234") == "explicit:1234"


def test_no_endpoint_means_embedded() -> None:
    """With neither variable set and no argument, there is no endpoint (embedded default)."""
    assert settings.resolve_endpoint(None) is None


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("localhost:4317", ("localhost:4317", False)),
        ("http://h:1/", ("h:1", False)),
        ("https://h:443", ("h:443", True)),
        ("[::1]:4317", ("[::1]:4317", False)),
    ],
)
def test_endpoint_forms(endpoint: str, expected: tuple[str, bool]) -> None:
    """host:port and http(s)://host:port are understood; https means TLS."""
    assert parse_grpc_endpoint(endpoint) == expected


@pytest.mark.parametrize("endpoint", ["localhost", "http://h", "h:port", "http://h:1/v1/metrics"])
def test_bad_endpoint_is_refused_at_init(endpoint: str) -> None:
    """init() with a malformed endpoint raises a ConfigError showing the expected form."""
    with pytest.raises(trainwire.ConfigError, match="host:port"):
        trainwire.init(endpoint=endpoint)


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed TRAINWIRE_ENDPOINT raises an error naming the variable, never a silent fallback."""
    monkeypatch.setenv("TRAINWIRE_ENDPOINT", "my host:4317")
    with pytest.raises(trainwire.ConfigError, match="TRAINWIRE_ENDPOINT"):
        trainwire.init()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"config": [1, 2]}, "config must be a dict"),
        ({"tags": ["ok", ""]}, "tags must be"),
        ({"experiment": ""}, "experiment must be"),
        ({"name": 5}, "name must be a non-empty string"),
    ],
)
def test_bad_init_arguments_name_the_argument(kwargs: dict[str, object], message: str) -> None:
    """init() refuses wrong argument types with a message naming the argument."""
    with pytest.raises(trainwire.InvalidValueError, match=message):
        trainwire.init(**kwargs)  # type: ignore[arg-type]
