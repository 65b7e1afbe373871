"""Bearer-token auth and TLS on both protocols, with real clients against a collector process."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests

from trainwire.testing import CollectorProcess, wait_for

TOKEN = "tw-test-token-4f9c"
METRICS = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory,
    certificate: Any,
    both_protocols_config: str,
) -> Iterator[CollectorProcess]:
    """A collector whose grpc and http servers use TLS and require the bearer token from the env."""
    tls = (
        f"        tls: {{{{cert_file: '{certificate.cert_file}',"
        f" key_file: '{certificate.key_file}'}}}}\n"
    )
    config = both_protocols_config.replace(
        "        endpoint: 127.0.0.1:0\n", "        endpoint: 127.0.0.1:0\n" + tls
    ).replace("  otlp:\n", "  otlp:\n    auth:\n      bearer_token: ${{env:TW_TEST_TOKEN}}\n")
    process = CollectorProcess(tmp_path_factory.mktemp("secured"), config=config)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TW_TEST_TOKEN", TOKEN)  # only the child process needs it
        process.start()
    try:
        yield process
    finally:
        process.stop()


def _grpc(process: CollectorProcess, certificate: Any, body: bytes, token: str | None) -> bytes:
    credentials = grpc.ssl_channel_credentials(root_certificates=certificate.pem)
    metadata = [("authorization", f"Bearer {token}")] if token is not None else []
    with grpc.secure_channel(process.endpoint, credentials) as channel:
        call = channel.unary_unary(METRICS)
        return call(body, metadata=metadata, timeout=10)  # type: ignore[no-any-return]


def _https(process: CollectorProcess, certificate: Any, body: bytes, **headers: str) -> Any:
    url = f"https://127.0.0.1:{process.http_port}/v1/metrics"
    return requests.post(
        url, data=body, headers={**PROTOBUF, **headers}, verify=certificate.cert_file
    )


def _stored(process: CollectorProcess, name: str) -> list[float]:
    with sqlite3.connect(process.db_path) as conn:
        rows = conn.execute(
            "SELECT p.value FROM points p JOIN series s ON s.id = p.series_id WHERE s.name = ?",
            (name,),
        )
        return [r[0] for r in rows]


def test_grpc_over_tls_with_the_token_is_stored(
    secured: CollectorProcess, certificate: Any, otlp: Any
) -> None:
    """A gRPC client trusting the certificate and sending the token is answered and its point stored."""
    _grpc(secured, certificate, otlp.metrics("tls_grpc", 1.0).SerializeToString(), TOKEN)

    assert wait_for(lambda: _stored(secured, "tls_grpc") == [1.0])


@pytest.mark.parametrize(
    "token", [None, "wrong-token", TOKEN + "x"], ids=["none", "wrong", "longer"]
)
def test_grpc_without_the_right_token_is_unauthenticated(
    secured: CollectorProcess, certificate: Any, otlp: Any, token: str | None
) -> None:
    """A gRPC call without the right bearer token fails UNAUTHENTICATED and stores nothing."""
    with pytest.raises(grpc.RpcError) as info:
        _grpc(secured, certificate, otlp.metrics("intruder").SerializeToString(), token)

    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    assert _stored(secured, "intruder") == []


def test_https_with_the_token_is_stored(
    secured: CollectorProcess, certificate: Any, otlp: Any
) -> None:
    """An HTTPS client trusting the certificate and sending the token gets 200 and its point stored."""
    body = otlp.metrics("tls_http", 2.0).SerializeToString()

    response = _https(secured, certificate, body, Authorization=f"bearer {TOKEN}")

    assert response.status_code == 200
    assert wait_for(lambda: _stored(secured, "tls_http") == [2.0])


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer nope", f"Basic {TOKEN}", f"Bearer{TOKEN}", "Bearer \u00e9t\u00e9"],
    ids=["none", "wrong", "basic", "no-space", "non-ascii"],
)
def test_https_without_the_right_token_is_401(
    secured: CollectorProcess, certificate: Any, otlp: Any, authorization: str | None
) -> None:
    """An HTTPS request without the right bearer token gets 401 with WWW-Authenticate: Bearer."""
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = otlp.metrics("intruder").SerializeToString()

    response = _https(secured, certificate, body, **headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_plaintext_clients_cannot_talk_to_tls_servers(secured: CollectorProcess, otlp: Any) -> None:
    """Plain HTTP and an insecure gRPC channel to the TLS ports fail, and the collector keeps serving."""
    body = otlp.metrics("plain").SerializeToString()
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"http://127.0.0.1:{secured.http_port}/v1/metrics", data=body, headers=PROTOBUF
        )
    with grpc.insecure_channel(secured.endpoint) as channel, pytest.raises(grpc.RpcError) as info:
        channel.unary_unary(METRICS)(body, timeout=5)

    assert info.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert secured.process is not None and secured.process.poll() is None


def test_token_never_reaches_the_log(secured: CollectorProcess) -> None:
    """The collector's output never contains the bearer token."""
    assert secured.output and not any(TOKEN in line for line in secured.output)


def test_unreadable_certificate_stops_start_naming_the_file(
    tmp_path: Path, both_protocols_config: str
) -> None:
    """A tls cert_file that cannot be read makes the collector exit 1, naming the file."""
    config = both_protocols_config.replace(
        "      http:\n        endpoint: 127.0.0.1:0\n",
        "      http:\n        endpoint: 127.0.0.1:0\n"
        f"        tls: {{{{cert_file: '{tmp_path}/absent.pem', key_file: '{tmp_path}/absent.pem'}}}}\n",
    )
    process = CollectorProcess(tmp_path / "c", config=config, start_timeout_s=20)

    with pytest.raises(RuntimeError, match="collector did not start"):
        process.start()

    assert process.process is not None and process.process.returncode == 1
    assert f"cannot load tls cert_file '{tmp_path}/absent.pem'" in "".join(process.output)


def test_token_without_tls_works_and_warns_without_the_token(
    start_receiver: Any, otlp: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Auth over plaintext checks the token on both protocols and warns, never logging the token."""
    protocols = {"grpc": {"endpoint": "127.0.0.1:0"}, "http": {"endpoint": "127.0.0.1:0"}}
    with caplog.at_level("INFO"):
        running = start_receiver({"protocols": protocols, "auth": {"bearer_token": TOKEN}})
    body = otlp.metrics().SerializeToString()
    url = f"{running.http_url}/v1/metrics"

    denied = requests.post(url, data=body, headers=PROTOBUF)
    allowed = requests.post(
        url, data=body, headers={**PROTOBUF, "Authorization": f"Bearer {TOKEN}"}
    )
    with grpc.insecure_channel(running.grpc_target) as channel:
        channel.unary_unary(METRICS)(body, metadata=[("authorization", f"Bearer {TOKEN}")])

    assert (denied.status_code, allowed.status_code) == (401, 200)
    assert len(running.sink.requests) == 2
    assert "sends the token in clear text" in caplog.text
    assert TOKEN not in caplog.text
