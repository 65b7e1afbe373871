"""The otlp receiver's settings: protocols, limits, tls and auth."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.confmap import decode
from trainwire.collector.receivers.otlp import (
    AuthConfig,
    GrpcServerConfig,
    HttpServerConfig,
    OtlpReceiver,
    OtlpReceiverConfig,
    Protocols,
    TLSConfig,
)
from trainwire.collector.telemetry import Telemetry

PATH = "receivers::otlp"
NEEDS_AIOHTTP = "needs aiohttp, which is not installed; pip install 'trainwire[server]'"


def _decode(data: Any) -> tuple[OtlpReceiverConfig, list[str]]:
    problems: list[str] = []
    return decode(OtlpReceiverConfig, data, PATH, problems), problems


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {"protocols": {"http": None}},
            OtlpReceiverConfig(Protocols(http=HttpServerConfig("localhost:4318", 4))),
            id="http-null-takes-defaults",
        ),
        pytest.param(
            {"protocols": {"grpc": {}, "http": {"max_request_body_size_mib": 16}}},
            OtlpReceiverConfig(
                Protocols(GrpcServerConfig(), HttpServerConfig(max_request_body_size_mib=16))
            ),
            id="both",
        ),
        pytest.param(
            {"protocols": {"grpc": {"tls": {"cert_file": "c.pem", "key_file": "k.pem"}}}},
            OtlpReceiverConfig(Protocols(GrpcServerConfig(tls=TLSConfig("c.pem", "k.pem")))),
            id="grpc-tls",
        ),
        pytest.param(
            {"protocols": {"grpc": None}, "auth": {"bearer_token": "s3cret"}},
            OtlpReceiverConfig(Protocols(GrpcServerConfig()), AuthConfig("s3cret")),
            id="auth",
        ),
    ],
)
def test_valid_receiver_settings_load(data: Any, expected: OtlpReceiverConfig) -> None:
    """Listed protocols are enabled with their defaults under the user's keys; absent ones are off."""
    config, problems = _decode(data)

    assert problems == []
    assert config == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {"protocols": {}},
            [
                f"{PATH}::protocols: required; enable grpc and/or http, e.g."
                " protocols: {grpc: {endpoint: localhost:4317}, http: }"
            ],
            id="no-protocol",
        ),
        pytest.param(
            {"protocols": {"http": {"max_request_body_size_mib": 0}}},
            [f"{PATH}::protocols::http::max_request_body_size_mib: must be between 1 and 1024"],
            id="body-limit",
        ),
        pytest.param(
            {"protocols": {"http": {"endpoint": "localhost"}}},
            [
                f"{PATH}::protocols::http::endpoint: 'localhost' is not host:port, e.g. localhost:4318"
            ],
            id="http-endpoint",
        ),
        pytest.param(
            {"protocols": {"http": {"max_request_body_size": 8}}},
            [
                f"{PATH}::protocols::http::max_request_body_size: unknown key; did you mean"
                " 'max_request_body_size_mib'? (valid keys: endpoint, max_request_body_size_mib,"
                " tls)"
            ],
            id="http-typo",
        ),
        pytest.param(
            {"protocols": {"grpc": {"tls": None}}},
            [
                f"{PATH}::protocols::grpc::tls::cert_file: required with tls; give a PEM file path",
                f"{PATH}::protocols::grpc::tls::key_file: required with tls; give a PEM file path",
            ],
            id="tls-empty",
        ),
        pytest.param(
            {"protocols": {"http": {"tls": {"cert_file": "c.pem"}}}},
            [f"{PATH}::protocols::http::tls::key_file: required with tls; give a PEM file path"],
            id="tls-no-key",
        ),
        pytest.param(
            {"protocols": {"grpc": None}, "auth": None},
            [
                f"{PATH}::auth::bearer_token: required with auth (is its environment variable"
                " unset?); e.g. bearer_token: ${env:TRAINWIRE_TOKEN}"
            ],
            id="auth-no-token",
        ),
        pytest.param(
            {"protocols": {"grpc": None}, "auth": {"bearer_token": "s3cret\n"}},
            [
                f"{PATH}::auth::bearer_token: must be printable ASCII without spaces"
                " (check the variable for a trailing newline)"
            ],
            id="auth-token-newline",
        ),
    ],
)
def test_bad_receiver_settings_are_named(data: Any, expected: list[str]) -> None:
    """Each wrong receiver setting is reported by path with what it needs."""
    _, problems = _decode(data)

    assert problems == expected


def test_token_is_never_shown() -> None:
    """The bearer token appears neither in the config's repr nor in a problem about it."""
    config, _ = _decode({"protocols": {"grpc": None}, "auth": {"bearer_token": "hunter2"}})
    _, problems = _decode({"protocols": {"grpc": None}, "auth": {"bearer_token": "hunter 2"}})

    assert "hunter" not in repr(config)
    assert problems and not any("hunter" in line for line in problems)


def test_http_without_aiohttp_is_refused_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without aiohttp, http fails validation and start, both saying pip install 'trainwire[server]'."""
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # makes `import aiohttp` fail
    config = OtlpReceiverConfig(Protocols(http=HttpServerConfig(endpoint="127.0.0.1:0")))
    receiver = OtlpReceiver(config, id=ComponentID("otlp"), next_consumers={Signal.LOGS: None})

    class Host:
        telemetry = Telemetry()

    with pytest.raises(OSError) as info:
        asyncio.run(receiver.start(Host()))  # type: ignore[arg-type]

    assert _decode({"protocols": {"http": None}})[1] == [
        f"{PATH}::protocols::http: {NEEDS_AIOHTTP}"
    ]
    assert str(info.value) == f"otlp: the http protocol {NEEDS_AIOHTTP}"


def test_importing_the_receiver_does_not_import_aiohttp() -> None:
    """The otlp receiver package loads without aiohttp; only starting an http server imports it."""
    code = (
        "import sys, trainwire.collector.receivers.otlp\n"
        "print(any(m == 'aiohttp' or m.startswith('aiohttp.') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert out.stdout.strip() == "False"
