"""Malformed and hostile input over both protocols of a real collector: clear errors, serving goes on.

Every case is followed by a good request that must be answered and stored, so a
case that broke the receiver or blocked the store fails here.
"""

from __future__ import annotations

import gzip
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
import requests

from trainwire.testing import CollectorProcess, wait_for

SERVICES = {
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
GZIP = {**PROTOBUF, "Content-Encoding": "gzip"}
MIB = 1024 * 1024
BIG = str(2**64 - 1)  # a fixed64 past SQLite's integer range
_names = itertools.count()


@pytest.fixture(scope="module")
def collector(
    tmp_path_factory: pytest.TempPathFactory, both_protocols_config: str
) -> Iterator[CollectorProcess]:
    """One collector with OTLP over gRPC and HTTP and metrics, logs and traces pipelines."""
    with CollectorProcess(tmp_path_factory.mktemp("malformed"), config=both_protocols_config) as c:
        yield c


def _grpc(collector: CollectorProcess, signal: str, body: bytes, **kwargs: Any) -> bytes:
    with grpc.insecure_channel(collector.endpoint) as channel:
        return channel.unary_unary(SERVICES[signal])(body, timeout=10, **kwargs)  # type: ignore[no-any-return]


def _http(collector: CollectorProcess, signal: str, body: Any, headers: dict[str, str]) -> Any:
    return requests.post(
        f"{collector.http_url}/v1/{signal}", data=body, headers=headers, timeout=30
    )


def _stored_points(collector: CollectorProcess, name: str) -> int:
    with sqlite3.connect(collector.db_path) as conn:
        row = conn.execute(
            "SELECT count(*) FROM points p JOIN series s ON s.id = p.series_id WHERE s.name = ?",
            (name,),
        ).fetchone()
        return int(row[0])


def _still_serving(collector: CollectorProcess, otlp: Any) -> None:
    """A good request over each protocol is answered and stored."""
    grpc_name, http_name = f"good_grpc_{next(_names)}", f"good_http_{next(_names)}"
    _grpc(collector, "metrics", otlp.metrics(grpc_name).SerializeToString())
    assert _http(collector, "metrics", otlp.metrics(http_name).SerializeToString(), PROTOBUF).ok
    assert wait_for(lambda: _stored_points(collector, grpc_name) == 1)
    assert wait_for(lambda: _stored_points(collector, http_name) == 1)


def _big_log(otlp: Any) -> bytes:
    request = otlp.logs(body="x" * (5 * MIB))
    return bytes(request.SerializeToString())


GRPC_CASES: list[Any] = [
    pytest.param(
        "metrics", lambda o: b"\xff\xff\xff\xff garbage", {}, "INVALID_ARGUMENT", id="garbage"
    ),
    pytest.param("logs", lambda o: b"\x0a\x05abc", {}, "INVALID_ARGUMENT", id="truncated"),
    pytest.param("traces", lambda o: b"\x0a\x02\x0a\xff", {}, "INVALID_ARGUMENT", id="bad-nested"),
    pytest.param("logs", _big_log, {}, "RESOURCE_EXHAUSTED", id="oversized"),
    pytest.param(
        "logs",
        lambda o: o.logs(body="\x00" * (64 * MIB)).SerializeToString(),
        {"compression": grpc.Compression.Gzip},
        "RESOURCE_EXHAUSTED",
        id="gzip-bomb",
    ),
]


@pytest.mark.parametrize(("signal", "make", "kwargs", "code"), GRPC_CASES)
def test_bad_grpc_request_gets_its_code_and_serving_continues(
    collector: CollectorProcess,
    otlp: Any,
    signal: str,
    make: Callable[[Any], bytes],
    kwargs: dict[str, Any],
    code: str,
) -> None:
    """A malformed or oversized gRPC request fails with its code (never INTERNAL); the next ones work."""
    with pytest.raises(grpc.RpcError) as info:
        _grpc(collector, signal, make(otlp), **kwargs)

    assert info.value.code() == getattr(grpc.StatusCode, code)  # type: ignore[attr-defined]
    _still_serving(collector, otlp)


HTTP_CASES: list[Any] = [
    pytest.param("metrics", b"\xff\xff\xff\xff garbage", PROTOBUF, 400, id="garbage"),
    pytest.param("traces", b"\x0a\x02\x0a\xff", PROTOBUF, 400, id="bad-nested"),
    pytest.param("logs", b"{}", {"Content-Type": "text/plain"}, 415, id="text-plain"),
    pytest.param("logs", b"{}", {"Content-Type": "application/protobuf+x"}, 415, id="odd-type"),
    pytest.param("logs", b"x", {**PROTOBUF, "Content-Encoding": "zstd"}, 415, id="zstd"),
    pytest.param("logs", b"\x00" * (5 * MIB), PROTOBUF, 413, id="oversized"),
    pytest.param("logs", gzip.compress(b"\x00" * (64 * MIB)), GZIP, 413, id="gzip-bomb"),
    pytest.param("logs", gzip.compress(b"x")[:-4], GZIP, 400, id="truncated-gzip"),
    pytest.param("metrics", b"{", JSON, 400, id="not-json"),
    pytest.param("metrics", b'{"resourceMetrics": {"a": 1}}', JSON, 400, id="object-for-list"),
    pytest.param(
        "metrics",
        b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": 5,'
        b' "gauge": {"dataPoints": [{"asDouble": "many"}]}}]}]}]}',
        JSON,
        400,
        id="wrong-types",
    ),
    pytest.param(
        "traces",
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "AAECAw=="}]}]}]}',
        JSON,
        400,
        id="base64-id",
    ),
]


@pytest.mark.parametrize(("signal", "body", "headers", "status"), HTTP_CASES)
def test_bad_http_request_gets_its_status_and_serving_continues(
    collector: CollectorProcess,
    otlp: Any,
    signal: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    """A malformed, oversized or mistyped HTTP request gets its 4xx (never 500); the next ones work."""
    response = _http(collector, signal, body, headers)

    assert response.status_code == status, response.content
    _still_serving(collector, otlp)


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_point_with_ten_thousand_attributes_is_accepted(
    collector: CollectorProcess, otlp: Any, transport: str
) -> None:
    """OTLP sets no attribute limit, so a point with 10,000 attributes is accepted and stored."""
    name = f"wide_{transport}"
    attributes = {f"attribute.{i}": i for i in range(10_000)}
    body = otlp.metrics(name, 1.0, **attributes).SerializeToString()

    if transport == "grpc":
        _grpc(collector, "metrics", body)
    else:
        assert _http(collector, "metrics", body, PROTOBUF).status_code == 200

    assert wait_for(lambda: _stored_points(collector, name) == 1)
    _still_serving(collector, otlp)


def test_data_the_store_cannot_hold_does_not_block_it(
    collector: CollectorProcess, otlp: Any
) -> None:
    """Times past SQLite's integer range are accepted, then dropped by the store alone; later data is stored."""
    gauge = {"name": "too_late", "gauge": {"dataPoints": [{"timeUnixNano": BIG, "asDouble": 1}]}}
    metrics = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [gauge]}]}]}
    logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": BIG}]}]}]}

    assert requests.post(f"{collector.http_url}/v1/metrics", json=metrics, timeout=10).ok
    assert requests.post(f"{collector.http_url}/v1/logs", json=logs, timeout=10).ok

    _still_serving(collector, otlp)
    assert _stored_points(collector, "too_late") == 0


def _spans(collector: CollectorProcess) -> list[tuple[Any, ...]]:
    with sqlite3.connect(collector.db_path) as conn:
        return conn.execute(
            "SELECT trace_id, span_id, parent_span_id, name, kind FROM spans ORDER BY name"
        ).fetchall()


def test_spans_over_both_protocols_are_stored_once(collector: CollectorProcess, otlp: Any) -> None:
    """Spans sent over gRPC and as OTLP/JSON with hex ids are stored once each, ids as hex."""
    trace, grpc_span = otlp.TRACE_ID.hex(), "00000000000000aa"
    body = otlp.traces("over_grpc", bytes.fromhex(grpc_span)).SerializeToString()
    span = {"traceId": trace, "spanId": "00000000000000bb", "parentSpanId": grpc_span}
    span.update(name="over_http", kind=3, startTimeUnixNano="1", endTimeUnixNano="2")
    json_body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}

    for _ in range(2):  # re-sent spans change nothing
        _grpc(collector, "traces", body)
        assert requests.post(f"{collector.http_url}/v1/traces", json=json_body, timeout=10).ok

    expected = [
        (trace, grpc_span, "", "over_grpc", 0),
        (trace, "00000000000000bb", grpc_span, "over_http", 3),
    ]
    assert wait_for(lambda: _spans(collector) == expected), _spans(collector)


def test_collector_survived_and_exits_cleanly(collector: CollectorProcess) -> None:
    """After all of the above the process is alive, and SIGTERM stops it with exit code 0."""
    assert collector.process is not None and collector.process.poll() is None
    assert collector.stop() == 0
    assert "Traceback" not in "".join(collector.output)
