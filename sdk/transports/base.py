"""The seam between the SDK's sender and wherever requests go."""

from __future__ import annotations

from typing import Protocol

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

__all__ = ["Transport"]


class Transport(Protocol):
    """Delivers OTLP requests; raises RetryableExportError or PermanentExportError on failure.

    Returning normally means the receiving side has taken the request durably.
    """

    def export_metrics(self, request: ExportMetricsServiceRequest, *, timeout_s: float) -> None:
        """Deliver one metrics request."""

    def export_logs(self, request: ExportLogsServiceRequest, *, timeout_s: float) -> None:
        """Deliver one logs request."""

    def export_raw(self, signal: int, payload: bytes, *, timeout_s: float) -> None:
        """Deliver one already-encoded request (``signal`` as in :mod:`trainwire.spool`)."""

    def close(self) -> None:
        """Release connections and threads; safe twice."""
