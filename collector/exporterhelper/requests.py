"""Per-signal handling of OTLP requests: parse, merge, count, and what may be dropped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire import semconv
from trainwire.collector.component import Signal

__all__ = ["PROTECTED_EVENTS", "count_items", "is_droppable", "merge", "request_type"]

PROTECTED_EVENTS = frozenset(
    {
        semconv.EVENT_RUN_START,
        semconv.EVENT_RUN_PARAMS,
        semconv.EVENT_RUN_TAGS,
        semconv.EVENT_RUN_RENAME,
        semconv.EVENT_RUN_METRIC_SPEC,
        semconv.EVENT_RUN_SUMMARY,
        semconv.EVENT_RUN_END,
        semconv.EVENT_ALERT,
        semconv.EVENT_ARTIFACT,
    }
)
"""Events a queue never drops to make room: a run's story (its definition, its end, its
alerts and artifacts) must stay whole. Progress is droppable: metric points, heartbeats,
console lines and plain log records."""

_TYPES: dict[Signal, type[Any]] = {
    Signal.METRICS: ExportMetricsServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
    Signal.TRACES: ExportTraceServiceRequest,
}
_RESOURCE_FIELD = {
    Signal.METRICS: "resource_metrics",
    Signal.LOGS: "resource_logs",
    Signal.TRACES: "resource_spans",
}


def request_type(signal: Signal) -> type[Any]:
    """The export request message class of ``signal``."""
    return _TYPES[signal]


def merge(signal: Signal, payloads: Sequence[bytes]) -> Any:
    """One request holding every serialized request of ``payloads``, in order."""
    request = _TYPES[signal]()
    for payload in payloads:
        request.MergeFromString(payload)  # repeated fields concatenate
    return request


def count_items(signal: Signal, request: Any) -> int:
    """Data points, log records or spans in ``request``."""
    field = _RESOURCE_FIELD[signal]
    total = 0
    for resource in getattr(request, field):
        for scope in getattr(resource, _SCOPE_FIELD[signal]):
            if signal is Signal.METRICS:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    if kind is not None:
                        total += len(getattr(metric, kind).data_points)
            elif signal is Signal.LOGS:
                total += len(scope.log_records)
            else:
                total += len(scope.spans)
    return total


_SCOPE_FIELD = {
    Signal.METRICS: "scope_metrics",
    Signal.LOGS: "scope_logs",
    Signal.TRACES: "scope_spans",
}


def is_droppable(signal: Signal, request: Any) -> bool:
    """Whether a full queue may drop this request: anything but protected run events."""
    if signal is not Signal.LOGS:
        return True
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                if record.event_name in PROTECTED_EVENTS:
                    return False
                for kv in record.attributes:
                    if (
                        kv.key == semconv.EVENT_NAME_ATTRIBUTE
                        and kv.value.string_value in PROTECTED_EVENTS
                    ):
                        return False
    return True
