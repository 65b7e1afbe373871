"""OTLP/JSON bodies: hex ids, either key spelling, unknown fields, enums, and clear refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from trainwire.collector.component import Signal
from trainwire.collector.receivers.otlp.otlpjson import OtlpJsonError, parse_json

TRACE = "5B8EFFF798038103D269B633813FC60C"  # hex is case-insensitive
SPAN = "eee19b7ec3c1b174"
PARENT = "0102030405060708"


def _traces(body: Any) -> ExportTraceServiceRequest:
    request: ExportTraceServiceRequest = parse_json(
        ExportTraceServiceRequest, Signal.TRACES, json.dumps(body).encode()
    )
    return request


def test_span_and_link_ids_are_hex() -> None:
    """traceId, spanId, parentSpanId of spans and links are read as hex, not base64."""
    span = {"traceId": TRACE, "spanId": SPAN, "parentSpanId": PARENT, "name": "step"}
    span["links"] = [{"traceId": TRACE, "spanId": PARENT}]
    request = _traces({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})

    parsed = request.resource_spans[0].scope_spans[0].spans[0]
    assert (parsed.trace_id.hex(), parsed.span_id.hex(), parsed.parent_span_id.hex()) == (
        TRACE.lower(),
        SPAN,
        PARENT,
    )
    assert (parsed.links[0].trace_id.hex(), parsed.links[0].span_id.hex()) == (
        TRACE.lower(),
        PARENT,
    )


def test_original_field_names_and_enum_numbers_are_accepted() -> None:
    """snake_case keys work like lowerCamelCase ones, ids included, and an enum may be a number."""
    span = {"trace_id": TRACE, "span_id": SPAN, "kind": 2, "status": {"code": "STATUS_CODE_ERROR"}}
    request = _traces({"resource_spans": [{"scope_spans": [{"spans": [span]}]}]})

    parsed = request.resource_spans[0].scope_spans[0].spans[0]
    assert parsed.span_id.hex() == SPAN
    assert parsed.kind == Span.SPAN_KIND_SERVER
    assert parsed.status.code == 2


def test_unknown_fields_are_ignored() -> None:
    """Fields the proto does not define, at any depth, are skipped rather than refused."""
    body = {
        "futureField": 1,
        "resourceSpans": [{"scopeSpans": [{"spans": [{"name": "s", "newThing": {"a": [1]}}]}]}],
    }

    assert _traces(body).resource_spans[0].scope_spans[0].spans[0].name == "s"


def test_log_and_exemplar_ids_are_hex() -> None:
    """Log records and metric exemplars carry hex trace and span ids too."""
    logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": TRACE, "spanId": SPAN}]}]}]}
    exemplar = {"traceId": TRACE, "spanId": SPAN, "asDouble": 1.0}
    point = {"timeUnixNano": "5", "asDouble": 1.5, "exemplars": [exemplar]}
    metric = {"name": "m", "sum": {"dataPoints": [point], "aggregationTemporality": 2}}
    metrics = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [metric]}]}]}

    record = parse_json(ExportLogsServiceRequest, Signal.LOGS, json.dumps(logs).encode())
    parsed = parse_json(ExportMetricsServiceRequest, Signal.METRICS, json.dumps(metrics).encode())

    assert record.resource_logs[0].scope_logs[0].log_records[0].span_id.hex() == SPAN
    data_point = parsed.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0]
    assert data_point.exemplars[0].trace_id.hex() == TRACE.lower()
    assert data_point.time_unix_nano == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"{not json", "body is not valid JSON", id="not-json"),
        pytest.param(b"\xff\xfe\x00", "body is not valid JSON", id="not-text"),
        pytest.param(b"[]", "body must be a JSON object, got list", id="array"),
        pytest.param(b"[" * 100_000, "body is not valid JSON", id="deep-nesting"),
        pytest.param(
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}',
            "traceId: 'xyz' is not a hex string",
            id="bad-hex",
        ),
        pytest.param(b'{"resourceSpans": "many"}', "not a valid", id="string-for-list"),
        pytest.param(
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
            "not a valid",
            id="text-for-integer",
        ),
        pytest.param(
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": {"a": 1}}]}]}]}',
            "not a valid",
            id="object-for-string",
        ),
        pytest.param(
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": [1]}]}]}]}',
            "not a valid",
            id="list-for-enum",
        ),
        pytest.param(
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "\\ud800"}]}]}]}',
            "not a valid",
            id="lone-surrogate",
        ),
    ],
)
def test_bad_json_is_refused_saying_why(body: bytes, message: str) -> None:
    """A body that is not an OTLP/JSON request raises OtlpJsonError naming the problem."""
    with pytest.raises(OtlpJsonError) as info:
        parse_json(ExportTraceServiceRequest, Signal.TRACES, body)

    assert message in str(info.value)
