"""OTLP/HTTP against an in-process receiver, with a real HTTP client: answers per the OTLP spec."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.protobuf import json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2

from trainwire.collector.component import Signal
from trainwire.collector.receivers.otlp.signals import SIGNALS
from trainwire.errors import PermanentExportError, RetryableExportError

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024
HTTP_1_MIB = {"protocols": {"http": {"endpoint": "127.0.0.1:0", "max_request_body_size_mib": 1}}}


@pytest.fixture
def http(start_receiver: Any) -> Any:
    """A receiver serving OTLP/HTTP only, with a 1 MiB body limit."""
    return start_receiver(HTTP_1_MIB)


def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(url, data=body, headers=headers if headers is not None else PROTOBUF)


def _otlp_json(request: Any) -> str:
    """OTLP/JSON of a request: proto3 JSON, but with trace and span ids in hex."""
    data = json_format.MessageToDict(request)
    if "resourceSpans" not in data:
        return json.dumps(data)
    for rs, resource in zip(data["resourceSpans"], request.resource_spans, strict=True):
        for ss, scope in zip(rs["scopeSpans"], resource.scope_spans, strict=True):
            for span, message in zip(ss["spans"], scope.spans, strict=True):
                span.update(traceId=message.trace_id.hex(), spanId=message.span_id.hex())
    return json.dumps(data)


def _status(response: requests.Response) -> Any:
    if response.headers["Content-Type"] == "application/json":
        return json_format.Parse(response.text, status_pb2.Status())
    return status_pb2.Status.FromString(response.content)


@pytest.mark.parametrize("signal", list(Signal), ids=lambda s: s.value)
@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_export_answers_200_in_the_request_content_type(
    http: Any, otlp: Any, signal: Signal, encoding: str
) -> None:
    """A valid request of each signal, protobuf or JSON, gets 200 with an empty response of its type."""
    spec, request = SIGNALS[signal], otlp.request(signal)
    if encoding == "json":
        response = _post(http.http_url + spec.path, _otlp_json(request), JSON)
    else:
        response = _post(http.http_url + spec.path, request.SerializeToString())

    assert response.status_code == 200
    expected_type = "application/json" if encoding == "json" else "application/x-protobuf"
    assert response.headers["Content-Type"] == expected_type
    if encoding == "json":
        assert response.json() == {}
    else:
        assert spec.response_type.FromString(response.content) == spec.response_type()
    assert http.sink.requests == [request]


def test_gzip_body_is_inflated(http: Any, otlp: Any) -> None:
    """A gzip-encoded body (Content-Encoding: gzip) is inflated and accepted."""
    request = otlp.metrics()
    body = gzip.compress(request.SerializeToString())

    response = _post(http.http_url + "/v1/metrics", body, {**PROTOBUF, "Content-Encoding": "gzip"})

    assert response.status_code == 200
    assert http.sink.requests == [request]


def test_permanent_refusal_is_a_partial_success(http: Any, otlp: Any) -> None:
    """A request the pipeline refuses for good gets 200 with partial_success counting the points."""
    http.sink.failure = PermanentExportError("metric name not allowed")
    request = otlp.metrics()
    request.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points.add(as_double=2)

    response = _post(http.http_url + "/v1/metrics", request.SerializeToString())

    assert response.status_code == 200
    partial = SIGNALS[Signal.METRICS].response_type.FromString(response.content).partial_success
    assert (partial.rejected_data_points, partial.error_message) == (2, "metric name not allowed")


def test_backpressure_is_503_with_retry_after(http: Any, otlp: Any) -> None:
    """When the pipeline cannot take a request now, the answer is 503, Retry-After and RetryInfo."""
    http.sink.failure = RetryableExportError("queue full", retry_after_s=2.5)

    response = _post(http.http_url + "/v1/logs", otlp.logs().SerializeToString())

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    status = _status(response)
    assert (status.code, status.message) == (code_pb2.UNAVAILABLE, "queue full")
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry) and retry.retry_delay.seconds == 3


def _chunks(size: int) -> Iterator[bytes]:
    for _ in range(size // 65536):
        yield b"\x00" * 65536


BOMB = gzip.compress(b"\x00" * (64 * MIB))  # 64 KiB that inflates to 64 MiB


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        pytest.param("GET", "/v1/metrics", PROTOBUF, b"", 405, id="get"),
        pytest.param("POST", "/v1/profiles", PROTOBUF, b"", 404, id="unknown-path"),
        pytest.param("POST", "/v1/metrics", {"Content-Type": "text/plain"}, b"x", 415, id="text"),
        pytest.param("POST", "/v1/metrics", {}, b"x", 415, id="no-content-type"),
        pytest.param(
            "POST", "/v1/metrics", {**PROTOBUF, "Content-Encoding": "br"}, b"x", 415, id="brotli"
        ),
        pytest.param(
            "POST", "/v1/metrics", {**PROTOBUF, "Content-Encoding": "gzip"}, b"xx", 400, id="bad-gz"
        ),
        pytest.param("POST", "/v1/metrics", PROTOBUF, b"\xff\xff\xff", 400, id="bad-protobuf"),
        pytest.param("POST", "/v1/logs", JSON, b'{"resourceLogs": 7}', 400, id="bad-json"),
        pytest.param("POST", "/v1/logs", PROTOBUF, b"\x00" * (MIB + 1), 413, id="content-length"),
        pytest.param("POST", "/v1/logs", PROTOBUF, _chunks(2 * MIB), 413, id="chunked"),
        pytest.param(
            "POST", "/v1/logs", {**PROTOBUF, "Content-Encoding": "gzip"}, BOMB, 413, id="gzip-bomb"
        ),
    ],
)
def test_bad_requests_get_their_status_and_serving_continues(
    http: Any,
    otlp: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any,
    status: int,
) -> None:
    """Each bad request gets its OTLP/HTTP status (4xx, Status body where ours) and the next request works."""
    response = requests.request(method, http.http_url + path, data=body, headers=headers)

    assert response.status_code == status, response.content
    if status not in (404, 405):
        assert _status(response).message
    assert _post(http.http_url + "/v1/metrics", otlp.metrics().SerializeToString()).ok
    assert len(http.sink.requests) == 1


def test_signal_without_pipeline_is_404(start_receiver: Any, otlp: Any) -> None:
    """A path for a signal with no pipeline behind the receiver is not served."""
    running = start_receiver(HTTP_1_MIB, signals=frozenset({Signal.METRICS}))

    response = _post(running.http_url + "/v1/traces", otlp.traces().SerializeToString())

    assert response.status_code == 404


def test_json_error_answers_are_json(http: Any) -> None:
    """A bad OTLP/JSON request is answered with a JSON google.rpc.Status."""
    response = _post(http.http_url + "/v1/traces", b'{"resourceSpans": [1]}', JSON)

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] == code_pb2.INVALID_ARGUMENT
    assert "not a valid opentelemetry.proto.collector.trace.v1" in response.json()["message"]


def test_taken_port_fails_start_naming_the_address(http: Any, start_receiver: Any) -> None:
    """A second http server on a port already in use fails to start, naming the endpoint."""
    endpoint = f"127.0.0.1:{http.receiver.http_port}"

    with pytest.raises(OSError, match=f"otlp: cannot listen on {endpoint}"):
        start_receiver({"protocols": {"http": {"endpoint": endpoint}}})
