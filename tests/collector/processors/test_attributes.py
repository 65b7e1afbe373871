"""The attributes processor edits point, record and span attributes and renames metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.anyvalue import attributes_to_dict, to_attributes
from trainwire.collector.component import ComponentID
from trainwire.collector.processors.attributes import (
    AttributeAction,
    AttributesProcessor,
    AttributesProcessorConfig,
    MetricRename,
)

ID = ComponentID("attributes")
START = {"host": "node-1", "env": "dev"}


def process(
    sink: Any, host: Any, config: AttributesProcessorConfig, method: str, request: Any
) -> None:
    """Start the processor and hand it one request."""
    processor = AttributesProcessor(config, id=ID, next_consumer=sink)

    async def scenario() -> None:
        await processor.start(host)
        await getattr(processor, method)(request)
        await processor.shutdown()

    asyncio.run(scenario())


def metrics(*names: str, attributes: dict[str, Any] = START) -> ExportMetricsServiceRequest:
    """A gauge and a histogram point per name, each with ``attributes``."""
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    for name in names:
        metric = scope.metrics.add(name=name)
        metric.gauge.data_points.add(time_unix_nano=1).attributes.extend(to_attributes(attributes))
    scope.metrics.add(name="dist").histogram.data_points.add(count=1).attributes.extend(
        to_attributes(attributes)
    )
    return request


def point_attributes(request: ExportMetricsServiceRequest) -> list[dict[str, Any]]:
    """The attributes of every point, gauges and histograms alike."""
    result = []
    for metric in request.resource_metrics[0].scope_metrics[0].metrics:
        kind = metric.WhichOneof("data")
        result.extend(attributes_to_dict(p.attributes) for p in getattr(metric, kind).data_points)
    return result


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (AttributeAction(key="env", action="insert", value="prod"), START),
        (AttributeAction(key="team", action="insert", value="ml"), {**START, "team": "ml"}),
        (AttributeAction(key="env", action="update", value="prod"), {**START, "env": "prod"}),
        (AttributeAction(key="team", action="update", value="ml"), START),
        (AttributeAction(key="env", action="upsert", value=3), {**START, "env": 3}),
        (AttributeAction(key="team", action="upsert", value=True), {**START, "team": True}),
        (AttributeAction(key="host", action="delete"), {"env": "dev"}),
        (
            AttributeAction(key="host", action="rename", new_key="node"),
            {"env": "dev", "node": "node-1"},
        ),
        (AttributeAction(key="host", action="rename", new_key="env"), {"env": "node-1"}),
        (AttributeAction(key="absent", action="rename", new_key="env"), START),
    ],
    ids=lambda v: (
        f"{v.action}-{v.key}-{v.new_key or v.value}" if isinstance(v, AttributeAction) else ""
    ),
)
def test_action_applies_to_every_data_point(
    sink: Any, host: Any, action: AttributeAction, expected: dict[str, Any]
) -> None:
    """Each action type edits the attributes of gauge and histogram points as the Collector's would."""
    process(
        sink, host, AttributesProcessorConfig(actions=(action,)), "consume_metrics", metrics("loss")
    )
    assert point_attributes(sink.metrics[0]) == [expected, expected]


def test_actions_apply_in_order(sink: Any, host: Any) -> None:
    """Later actions see what earlier ones did."""
    actions = (
        AttributeAction(key="host", action="rename", new_key="node"),
        AttributeAction(key="node", action="update", value="masked"),
    )
    process(
        sink, host, AttributesProcessorConfig(actions=actions), "consume_metrics", metrics("loss")
    )
    assert point_attributes(sink.metrics[0])[0] == {"env": "dev", "node": "masked"}


def test_actions_apply_to_log_records_and_spans(sink: Any, host: Any) -> None:
    """Log record and span attributes are edited like data point attributes; resources are left alone."""
    config = AttributesProcessorConfig(actions=(AttributeAction(key="host", action="delete"),))
    logs = ExportLogsServiceRequest()
    resource_logs = logs.resource_logs.add()
    resource_logs.resource.attributes.extend(to_attributes(START))
    resource_logs.scope_logs.add().log_records.add().attributes.extend(to_attributes(START))
    traces = ExportTraceServiceRequest()
    traces.resource_spans.add().scope_spans.add().spans.add(name="step").attributes.extend(
        to_attributes(START)
    )
    process(sink, host, config, "consume_logs", logs)
    process(sink, host, config, "consume_traces", traces)
    (log_out,), (trace_out,) = sink.logs, sink.traces
    assert attributes_to_dict(log_out.resource_logs[0].scope_logs[0].log_records[0].attributes) == {
        "env": "dev"
    }
    assert attributes_to_dict(log_out.resource_logs[0].resource.attributes) == START
    assert attributes_to_dict(trace_out.resource_spans[0].scope_spans[0].spans[0].attributes) == {
        "env": "dev"
    }


def test_metric_renames_apply_in_order_and_spare_ml_step(sink: Any, host: Any) -> None:
    """rename_metrics applies re.sub in order to every metric name except ml.step."""
    renames = (
        MetricRename(pattern=r"^train_(\w+)$", replacement=r"train/\1"),
        MetricRename(pattern=r"(.+)", replacement=r"exp.\1"),
    )
    config = AttributesProcessorConfig(rename_metrics=renames)
    process(sink, host, config, "consume_metrics", metrics("train_loss", "ml.step"))
    got = [m.name for m in sink.metrics[0].resource_metrics[0].scope_metrics[0].metrics]
    assert got == ["exp.train/loss", "ml.step", "exp.dist"]


def test_the_callers_request_is_not_modified(sink: Any, host: Any) -> None:
    """The processor edits a copy: the request a receiver shares with other pipelines stays as it was."""
    request = metrics("loss")
    before = request.SerializeToString()
    config = AttributesProcessorConfig(
        actions=(AttributeAction(key="env", action="delete"),),
        rename_metrics=(MetricRename(pattern="loss", replacement="objective"),),
    )
    process(sink, host, config, "consume_metrics", request)
    assert request.SerializeToString() == before
    assert sink.metrics[0] is not request
