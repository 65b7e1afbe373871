"""``init(dry_run=True)``: print what would be sent, send nothing."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire import semconv
from trainwire.spool import SIGNAL_LOGS, SIGNAL_METRICS

__all__ = ["DryRunTransport"]


class DryRunTransport:
    """Acknowledges everything and prints a one-line summary of each request."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr

    def export_raw(self, signal: int, payload: bytes, *, timeout_s: float) -> None:
        """Print a summary of one encoded request."""
        if signal == SIGNAL_METRICS:
            self.export_metrics(
                ExportMetricsServiceRequest.FromString(payload), timeout_s=timeout_s
            )
        elif signal == SIGNAL_LOGS:
            self.export_logs(ExportLogsServiceRequest.FromString(payload), timeout_s=timeout_s)

    def export_metrics(self, request: ExportMetricsServiceRequest, *, timeout_s: float) -> None:
        """Print the metric names, point counts and step range."""
        names: dict[str, int] = {}
        steps: list[int] = []
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    points: Any = getattr(metric, metric.WhichOneof("data") or "gauge").data_points
                    if metric.name == semconv.METRIC_STEP:
                        steps.extend(p.as_int for p in points)
                    else:
                        names[metric.name] = names.get(metric.name, 0) + len(points)
        span = f" steps {min(steps)}-{max(steps)}" if steps else ""
        listed = ", ".join(f"{k}×{v}" for k, v in names.items())
        self._print(f"metrics {sum(names.values())} points{span}: {listed}")

    def export_logs(self, request: ExportLogsServiceRequest, *, timeout_s: float) -> None:
        """Print the event names."""
        events = [
            r.event_name or "log"
            for rl in request.resource_logs
            for sl in rl.scope_logs
            for r in sl.log_records
        ]
        self._print(f"events {len(events)}: {', '.join(events)}")

    def _print(self, line: str) -> None:
        print(f"[trainwire dry run] {line}", file=self._stream, flush=True)

    def close(self) -> None:
        """Nothing to release."""
