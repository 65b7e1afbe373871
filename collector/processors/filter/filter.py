"""The ``filter`` processor: drops metrics, log records and spans by name.

Patterns are regular expressions matched against the whole name. The metric
``ml.step`` is never dropped, whatever the patterns say: the store resolves the
step of every other point through it (see DESIGN.md, "the step is a Gauge of its
own"), so dropping it would leave kept points without a step. Log records are
matched by event name (the ``event_name`` field, else the ``event.name``
attribute); records without one are not events and always pass. A request left
empty is not sent on; what is dropped is counted as
``otelcol_processor_dropped_{metric_points,log_records,spans}``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from trainwire.collector.component import ComponentID, Host
from trainwire.collector.processors._otlp import Request, forward, keep_items, layout_of
from trainwire.collector.processors._patterns import NamePatterns
from trainwire.collector.processors._telemetry import ProcessorCounters
from trainwire.collector.processors.filter.config import FilterProcessorConfig
from trainwire.records import event_name
from trainwire.semconv import METRIC_STEP

__all__ = ["FilterProcessor"]


class FilterProcessor:
    """Passes on what its patterns keep and counts what they drop."""

    def __init__(
        self, config: FilterProcessorConfig, *, id: ComponentID, next_consumer: Any
    ) -> None:
        self.config = config
        self.id = id
        self._next = next_consumer
        self._include = NamePatterns(config.metrics.include)
        self._exclude = NamePatterns(config.metrics.exclude)
        self._exclude_events = NamePatterns(config.logs.exclude_event_names)
        self._exclude_spans = NamePatterns(config.traces.exclude_span_names)
        self.dropped = ProcessorCounters(id, "dropped", "dropped by a processor")

    async def start(self, host: Host) -> None:
        """Count drops into the host's telemetry."""
        self.dropped.bind(host)

    async def shutdown(self) -> None:
        """Nothing to drain: the filter holds no data."""

    def keeps_metric(self, metric: Metric) -> bool:
        """Whether ``metric`` passes: ``ml.step`` always; others by include, then exclude."""
        if metric.name == METRIC_STEP:
            return True
        if self._include and not self._include.matches(metric.name):
            return False
        return not self._exclude.matches(metric.name)

    def keeps_log_record(self, record: LogRecord) -> bool:
        """Whether ``record`` passes: records without an event name always do."""
        name = event_name(record)
        return not (name and self._exclude_events.matches(name))

    def keeps_span(self, span: Span) -> bool:
        """Whether ``span`` passes."""
        return not self._exclude_spans.matches(span.name)

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Pass on the metrics that are kept."""
        await self._filter(request, self.keeps_metric)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Pass on the log records that are kept."""
        await self._filter(request, self.keeps_log_record)

    async def consume_traces(self, request: ExportTraceServiceRequest) -> None:
        """Pass on the spans that are kept."""
        await self._filter(request, self.keeps_span)

    async def _filter(self, request: Request, keep: Any) -> None:
        layout = layout_of(request)
        kept, dropped = keep_items(request, keep)
        if dropped:
            self.dropped.add(layout.units, dropped)
            if not getattr(kept, layout.resources):
                return  # all of it was dropped on purpose: nothing to hand on
        await forward(self._next, kept)
