"""Fuzzing both protocols of one collector process: every answer is an allowed code, and it survives.

Arbitrary bytes go to every service and path under every content type; arbitrary
JSON built from OTLP's own field names goes to every path. Whatever decodes is
stored, so the store is fuzzed too: at the end, good data must still be stored.
"""

from __future__ import annotations

import base64
import functools
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.testing import CollectorProcess, wait_for

SIGNALS = ("metrics", "logs", "traces")
SERVICES = {
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}
GRPC_ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}
HTTP_ALLOWED = {200, 400, 413, 415}
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow],
)
HEADERS = [
    {"Content-Type": "application/x-protobuf"},
    {"Content-Type": "application/json"},
    {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    {"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "deflate"},
    {"Content-Type": "text/plain"},
]
OTLP_KEYS = (
    "resourceMetrics resourceLogs resourceSpans resource attributes key value stringValue"
    " intValue doubleValue boolValue bytesValue arrayValue kvlistValue values scopeMetrics"
    " scopeLogs scopeSpans scope name version metrics gauge sum histogram exponentialHistogram"
    " summary dataPoints asDouble asInt timeUnixNano startTimeUnixNano endTimeUnixNano"
    " observedTimeUnixNano count bucketCounts explicitBounds quantileValues quantile positive"
    " negative offset scale zeroCount aggregationTemporality isMonotonic unit exemplars"
    " logRecords body severityNumber severityText eventName spans traceId spanId parentSpanId"
    " trace_id kind status code message events links flags droppedAttributesCount"
).split()
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        ["5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "AAEC", "18446744073709551615"]
    )
)
JSON_TREES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(OTLP_KEYS) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=40,
)
FREE_FORM = st.dictionaries(
    st.sampled_from(["resourceMetrics", "resourceLogs", "resourceSpans"]), JSON_TREES, max_size=2
)
HEX_IDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_INTS = {
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
}


SPINE = {"resourceMetrics", "resourceLogs", "resourceSpans", "scopeMetrics", "scopeLogs"}
SPINE |= {"scopeSpans", "metrics", "logRecords", "spans", "dataPoints"}
"""Fields always present (non-empty) so that examples reach the points, records and spans."""


@functools.cache
def _shaped(descriptor: Descriptor, depth: int, odd: bool) -> st.SearchStrategy[Any]:
    """OTLP/JSON of ``descriptor``'s message: right-typed values, or with ``odd`` any scalar too."""
    if depth > 6:
        return st.just({})
    plain = [f for f in descriptor.fields if f.containing_oneof is None]
    required = {f.json_name: _field(f, depth, odd) for f in plain if f.json_name in SPINE}
    optional = {f.json_name: _field(f, depth, odd) for f in plain if f.json_name not in SPINE}
    # At most one field of each oneof, as OTLP/JSON allows (e.g. a Metric's gauge or sum).
    choices = [
        st.sampled_from([None, *oneof.fields]).flatmap(
            lambda f, d=depth: (
                st.just({})
                if f is None
                else _field(f, d, odd).map(lambda v, name=f.json_name: {name: v})
            )
        )
        for oneof in descriptor.oneofs
    ]
    base = st.fixed_dictionaries(required, optional=optional)
    return st.tuples(base, *choices).map(lambda parts: {k: v for p in parts for k, v in p.items()})


def _field(field: FieldDescriptor, depth: int, odd: bool) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        value = st.deferred(lambda: _shaped(field.message_type, depth + 1, odd))
    elif field.type == FieldDescriptor.TYPE_ENUM:
        names = [v.name for v in field.enum_type.values]
        value = st.sampled_from(names) | st.integers(-3, 30)
    elif field.json_name in HEX_IDS:
        size = HEX_IDS[field.json_name]
        value = st.binary(min_size=size, max_size=size).map(bytes.hex) | st.just("")
    elif field.type == FieldDescriptor.TYPE_BYTES:
        value = st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode())
    elif field.type == FieldDescriptor.TYPE_DOUBLE:
        value = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
            ["NaN", "Infinity", "-Infinity"]
        )
    elif field.type == FieldDescriptor.TYPE_BOOL:
        value = st.booleans()
    elif field.type == FieldDescriptor.TYPE_STRING:
        value = st.text(max_size=12)
    else:
        low, high = _INTS.get(field.type, (-(2**63), 2**63 - 1))
        value = st.integers(low, high) | st.integers(low, high).map(str)
    if odd:
        value = value | SCALARS
    if field.is_repeated:
        value = st.lists(value, min_size=int(field.json_name in SPINE), max_size=3)
    return value


SHAPED = {
    name: st.sampled_from([False, True]).flatmap(
        lambda odd, m=message: _shaped(m.DESCRIPTOR, 0, odd)
    )
    for name, message in (
        ("metrics", ExportMetricsServiceRequest),
        ("logs", ExportLogsServiceRequest),
        ("traces", ExportTraceServiceRequest),
    )
}


@pytest.fixture(scope="module")
def target(
    tmp_path_factory: pytest.TempPathFactory, both_protocols_config: str
) -> Iterator[tuple[CollectorProcess, grpc.Channel, requests.Session]]:
    """One collector with both protocols, a gRPC channel to it and an HTTP session."""
    with (
        CollectorProcess(tmp_path_factory.mktemp("fuzz"), config=both_protocols_config) as c,
        grpc.insecure_channel(c.endpoint) as channel,
        requests.Session() as session,
    ):
        yield c, channel, session


@FUZZ
@given(body=st.binary(max_size=2048), signal=st.sampled_from(SIGNALS))
def test_arbitrary_bytes_over_grpc_get_ok_or_invalid_argument(
    target: Any, body: bytes, signal: str
) -> None:
    """Any bytes sent to any Export method are stored or refused INVALID_ARGUMENT, never INTERNAL."""
    _, channel, _ = target
    try:
        channel.unary_unary(SERVICES[signal])(body, timeout=10)
        code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        code = error.code()  # type: ignore[attr-defined]

    assert code in GRPC_ALLOWED


@FUZZ
@given(
    body=st.binary(max_size=2048),
    signal=st.sampled_from(SIGNALS),
    headers=st.sampled_from(HEADERS),
)
def test_arbitrary_bytes_over_http_get_an_allowed_status(
    target: Any, body: bytes, signal: str, headers: dict[str, str]
) -> None:
    """Any bytes under any content type and encoding get 200, 400, 413 or 415, never 5xx."""
    collector, _, session = target

    response = session.post(f"{collector.http_url}/v1/{signal}", data=body, headers=headers)

    assert response.status_code in HTTP_ALLOWED, response.content


@FUZZ
@given(data=st.data(), signal=st.sampled_from(SIGNALS))
def test_structured_json_gets_200_or_400(target: Any, data: Any, signal: str) -> None:
    """OTLP-shaped JSON with odd values, or free-form JSON of OTLP names, gets 200 or 400, never 5xx."""
    collector, _, session = target
    document = data.draw(SHAPED[signal] | FREE_FORM)
    body = json.dumps(document).encode()

    response = session.post(
        f"{collector.http_url}/v1/{signal}",
        data=body,
        headers={"Content-Type": "application/json"},
    )

    event(f"HTTP {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert response.status_code in (200, 400), response.content


def test_collector_survived_the_fuzzing(target: Any, otlp: Any) -> None:
    """After the fuzzing the collector still answers both protocols, stores good data and exits 0."""
    collector, channel, session = target
    channel.unary_unary(SERVICES["metrics"])(otlp.metrics("after_grpc").SerializeToString())
    response = session.post(
        f"{collector.http_url}/v1/metrics",
        data=otlp.metrics("after_http").SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )

    assert response.status_code == 200
    assert wait_for(lambda: _stored(collector, ("after_grpc", "after_http")) == 2, timeout_s=20)
    assert collector.stop() == 0
    output = "".join(collector.output)
    assert "Traceback" not in output and "failed unexpectedly" not in output, output[-4000:]


def _stored(collector: CollectorProcess, names: tuple[str, ...]) -> int:
    with sqlite3.connect(collector.db_path) as conn:
        row = conn.execute(
            "SELECT count(*) FROM points p JOIN series s ON s.id = p.series_id"
            f" WHERE s.name IN ({','.join('?' * len(names))})",
            names,
        ).fetchone()
        return int(row[0])
