"""The filter processor drops metrics, events and spans by name, and never drops ml.step."""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.collector.component import ComponentID
from trainwire.collector.processors.filter import (
    FilterProcessor,
    FilterProcessorConfig,
    LogsFilterConfig,
    MetricsFilterConfig,
    TracesFilterConfig,
)

ID = ComponentID("filter", "noise")


def metrics(*names: str) -> ExportMetricsServiceRequest:
    """One scope of gauges ``names``, two points each."""
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    for name in names:
        metric = scope.metrics.add(name=name)
        for t in (1, 2):
            metric.gauge.data_points.add(time_unix_nano=t, as_double=0.5)
    return request


def names(requests: list[Any]) -> list[str]:
    """Metric names handed on, in order."""
    return [
        m.name
        for r in requests
        for rm in r.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    ]


def process(sink: Any, host: Any, config: FilterProcessorConfig, method: str, request: Any) -> None:
    """Start a filter and hand it one request."""
    processor = FilterProcessor(config, id=ID, next_consumer=sink)

    async def scenario() -> None:
        await processor.start(host)
        await getattr(processor, method)(request)
        await processor.shutdown()

    asyncio.run(scenario())


def dropped(host: Any, unit: str) -> float:
    return host.telemetry.counter(f"otelcol_processor_dropped_{unit}", "", ("processor",)).value(
        processor="filter/noise"
    )


def test_include_keeps_only_matching_metrics_and_ml_step(sink: Any, host: Any) -> None:
    """With include, only metrics whose whole name matches pass, plus ml.step; the rest are counted as dropped."""
    config = FilterProcessorConfig(metrics=MetricsFilterConfig(include=("loss", "train/.*")))
    process(
        sink, host, config, "consume_metrics", metrics("loss", "val_loss", "train/acc", "ml.step")
    )
    assert names(sink.metrics) == ["loss", "train/acc", "ml.step"]
    assert dropped(host, "metric_points") == 2


def test_exclude_drops_matching_metrics_but_never_ml_step(sink: Any, host: Any) -> None:
    """Exclude drops matching metrics; ml.step passes even when a pattern matches it."""
    config = FilterProcessorConfig(metrics=MetricsFilterConfig(exclude=(r"ml\..*", "gpu.*")))
    process(sink, host, config, "consume_metrics", metrics("ml.step", "ml.lr", "gpu_util", "loss"))
    assert names(sink.metrics) == ["ml.step", "loss"]
    assert dropped(host, "metric_points") == 4


def test_include_and_exclude_combine(sink: Any, host: Any) -> None:
    """A metric passes when include matches it and exclude does not."""
    config = FilterProcessorConfig(
        metrics=MetricsFilterConfig(include=("train/.*",), exclude=("train/debug.*",))
    )
    process(
        sink,
        host,
        config,
        "consume_metrics",
        metrics("train/loss", "train/debug_norm", "eval/loss"),
    )
    assert names(sink.metrics) == ["train/loss"]


def test_a_request_left_empty_is_not_sent_on(sink: Any, host: Any) -> None:
    """When every metric is dropped nothing goes downstream, and the caller's request is left as it was."""
    request = metrics("gpu_util", "gpu_temp")
    before = request.SerializeToString()
    config = FilterProcessorConfig(metrics=MetricsFilterConfig(exclude=("gpu_.*",)))
    process(sink, host, config, "consume_metrics", request)
    assert sink.calls == 0
    assert request.SerializeToString() == before


def test_events_are_dropped_by_event_name_field_or_attribute(sink: Any, host: Any) -> None:
    """exclude_event_names matches the event_name field or the event.name attribute; plain records pass."""
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    scope.log_records.add(event_name="ml.console").body.string_value = "field"
    scope.log_records.add().attributes.add(key="event.name").value.string_value = "ml.console"
    scope.log_records.add(event_name="ml.run.end").body.string_value = "end"
    scope.log_records.add().body.string_value = "plain log line"
    config = FilterProcessorConfig(logs=LogsFilterConfig(exclude_event_names=("ml.console",)))
    process(sink, host, config, "consume_logs", request)
    (kept,) = sink.logs
    bodies = [r.body.string_value for r in kept.resource_logs[0].scope_logs[0].log_records]
    assert bodies == ["end", "plain log line"]
    assert dropped(host, "log_records") == 2


def test_spans_are_dropped_by_name(sink: Any, host: Any) -> None:
    """exclude_span_names drops spans whose whole name matches."""
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for name in ("dataloader.next", "train_step", "dataloader.prefetch"):
        scope.spans.add(name=name)
    config = FilterProcessorConfig(
        traces=TracesFilterConfig(exclude_span_names=(r"dataloader\..*",))
    )
    process(sink, host, config, "consume_traces", request)
    (kept,) = sink.traces
    assert [s.name for s in kept.resource_spans[0].scope_spans[0].spans] == ["train_step"]
    assert dropped(host, "spans") == 2


def test_default_config_passes_the_request_itself(sink: Any, host: Any) -> None:
    """With no patterns the very request is handed on, uncopied."""
    request = metrics("loss")
    process(sink, host, FilterProcessorConfig(), "consume_metrics", request)
    assert sink.metrics[0] is request
