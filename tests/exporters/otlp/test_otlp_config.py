"""Config of the otlp and otlphttp exporters: defaults, testdata files, every problem by path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trainwire.collector.component import ComponentID, Kind
from trainwire.collector.components import default_factories
from trainwire.collector.config import load_config, parse_config
from trainwire.collector.exporterhelper import QueueConfig
from trainwire.errors import ConfigError
from trainwire.exporters.otlp import OtlpExporterConfig, OtlpHttpExporterConfig, TlsConfig

TESTDATA = Path(__file__).parent / "testdata"


def test_valid_file_loads_with_env_headers_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The valid testdata file loads: headers take their environment values, unset keys keep the defaults."""
    monkeypatch.setenv("GATEWAY_TOKEN", "t0k3n")
    monkeypatch.setenv("API_KEY", "k3y")
    config = load_config(TESTDATA / "valid.yaml", default_factories())
    exporters = config.components[Kind.EXPORTER]
    gateway = exporters[ComponentID("otlp", "gateway")]
    assert gateway.endpoint == "gateway.monitoring.svc:4317"
    assert gateway.headers == {"authorization": "Bearer t0k3n"}
    assert (gateway.tls.insecure, gateway.timeout_s, gateway.compression) == (True, 5.0, "none")
    assert gateway.sending_queue.queue_size == 200
    assert gateway.retry_on_failure.max_elapsed_time_s == 0
    assert gateway.artifacts.directory == "./trainwire-data/artifacts"
    http = exporters[ComponentID("otlphttp")]
    assert (http.endpoint, http.compression, http.timeout_s) == (
        "https://otel.example.com:4318",
        "gzip",
        10.0,
    )
    assert http.retry_on_failure.initial_interval_s == 5.0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "typo.yaml",
            ["exporters::otlp::endpiont: unknown key; did you mean 'endpoint'?"],
        ),
        (
            "invalid.yaml",
            [
                "exporters::otlp/tls::tls::ca_file: cannot read '/nonexistent/ca.pem'",
                "exporters::otlp/tls::tls::ca_file: has no effect with insecure: true",
                "exporters::otlp::timeout_s: must be more than 0",
                "exporters::otlp::compression: 'zstd' is not one of gzip, none",
                "exporters::otlp::headers::bad header: not a valid header name",
                "exporters::otlp::endpoint: endpoint 'https://gateway:4317/v1' is not host:port",
                "exporters::otlp::headers::grpc-timeout: reserved by gRPC",
                "exporters::otlp::sending_queue::storage: required while the queue is enabled",
                "exporters::otlphttp::headers::authorization: expected a one-line string value",
                "exporters::otlphttp::endpoint: 'gateway:4318' is not an http:// or https:// URL",
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


def test_header_values_never_appear_in_errors_or_repr() -> None:
    """Header values (credentials) are left out of config problems and of the config's repr."""
    raw = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
        "exporters": {
            "otlphttp": {
                "endpoint": "http://x:4318",
                "headers": {"authorization": "Bearer s3cr3t\r\nx: y"},
            }
        },
        "service": {"pipelines": {"logs": {"receivers": ["otlp"], "exporters": ["otlphttp"]}}},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(raw, default_factories())
    assert "s3cr3t" not in str(info.value)
    config = OtlpHttpExporterConfig(endpoint="http://x:4318", headers={"authorization": "s3cr3t"})
    assert "s3cr3t" not in repr(config)


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (OtlpExporterConfig(), "endpoint: required"),
        (OtlpExporterConfig(endpoint="gateway"), "endpoint: endpoint 'gateway' is not host:port"),
        (
            OtlpExporterConfig(endpoint="https://gw:4317", tls=TlsConfig(insecure=True)),
            "tls::insecure: contradicts the https:// endpoint",
        ),
        (OtlpHttpExporterConfig(), "endpoint: required"),
        (
            OtlpHttpExporterConfig(endpoint="https://gw:4318", tls=TlsConfig(insecure=True)),
            "tls::insecure: use an http:// endpoint for plaintext instead",
        ),
        (OtlpExporterConfig(endpoint="gw:4317", headers={"x-key-bin": "v"}), "headers::x-key-bin"),
        (OtlpExporterConfig(endpoint="gw:4317"), "sending_queue::storage: required"),
    ],
)
def test_validate_names_the_setting_and_the_fix(config: object, problem: str) -> None:
    """validate() returns a line naming the wrong setting."""
    problems = config.validate()  # type: ignore[attr-defined]
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize(
    "config",
    [
        OtlpExporterConfig(endpoint="gateway:4317"),
        OtlpExporterConfig(endpoint="http://10.0.0.1:4317"),
        OtlpExporterConfig(endpoint="https://gw.example.com:443"),
        OtlpExporterConfig(endpoint="[::1]:4317", tls=TlsConfig(insecure=True)),
        OtlpHttpExporterConfig(endpoint="http://gateway:4318"),
        OtlpHttpExporterConfig(endpoint="https://otel.example.com/otlp"),
    ],
)
def test_well_formed_endpoints_validate(config: object) -> None:
    """host:port, http(s):// URLs and bracketed IPv6 are accepted endpoints."""
    config = dataclasses.replace(config, sending_queue=QueueConfig(storage="storage"))  # type: ignore[type-var]
    assert config.validate() == []  # type: ignore[attr-defined]
