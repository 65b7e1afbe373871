"""What the OTLP receiver knows per signal: service, path, messages, and how to count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from trainwire.collector.component import Signal

__all__ = ["SIGNALS", "SignalSpec"]


@dataclass(frozen=True)
class SignalSpec:
    """One OTLP export service (https://opentelemetry.io/docs/specs/otlp/)."""

    signal: Signal
    service: str
    """The gRPC service whose ``Export`` method takes this signal."""
    path: str
    """The OTLP/HTTP path."""
    request_type: type[Any]
    response_type: type[Any]
    rejected_field: str
    """The ``partial_success`` field counting refused items."""
    item_word: str
    """The unit in the Collector's telemetry names (``otelcol_receiver_accepted_spans``)."""
    consume: str
    """The consumer method that takes this signal."""


SIGNALS: dict[Signal, SignalSpec] = {
    Signal.METRICS: SignalSpec(
        Signal.METRICS,
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        "/v1/metrics",
        ExportMetricsServiceRequest,
        ExportMetricsServiceResponse,
        "rejected_data_points",
        "metric_points",
        "consume_metrics",
    ),
    Signal.LOGS: SignalSpec(
        Signal.LOGS,
        "opentelemetry.proto.collector.logs.v1.LogsService",
        "/v1/logs",
        ExportLogsServiceRequest,
        ExportLogsServiceResponse,
        "rejected_log_records",
        "log_records",
        "consume_logs",
    ),
    Signal.TRACES: SignalSpec(
        Signal.TRACES,
        "opentelemetry.proto.collector.trace.v1.TraceService",
        "/v1/traces",
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
        "rejected_spans",
        "spans",
        "consume_traces",
    ),
}
