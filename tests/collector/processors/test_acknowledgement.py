"""Every processor acknowledges only what downstream took, and passes downstream errors on unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.collector.component import ComponentID, Factory, Kind
from trainwire.collector.components import default_factories
from trainwire.errors import PermanentExportError, RetryableExportError

PROCESSORS = ("memory_limiter", "filter", "attributes", "batch")


def requests() -> dict[str, Any]:
    """One small request per consumer method."""
    metrics = ExportMetricsServiceRequest()
    metrics.resource_metrics.add().scope_metrics.add().metrics.add(
        name="loss"
    ).gauge.data_points.add(time_unix_nano=1)
    logs = ExportLogsServiceRequest()
    logs.resource_logs.add().scope_logs.add().log_records.add(event_name="ml.alert")
    traces = ExportTraceServiceRequest()
    traces.resource_spans.add().scope_spans.add().spans.add(name="step")
    return {"consume_metrics": metrics, "consume_logs": logs, "consume_traces": traces}


def create(name: str, sink: Any) -> Any:
    factory: Factory = default_factories()[Kind.PROCESSOR][name]
    return factory.create(factory.default_config(), id=ComponentID(name), next_consumer=sink)


@pytest.mark.parametrize("name", PROCESSORS)
@pytest.mark.parametrize(
    "error", [RetryableExportError("busy", retry_after_s=3.0), PermanentExportError("bad")]
)
def test_downstream_error_reaches_the_caller_unchanged(
    sink: Any, host: Any, name: str, error: Exception
) -> None:
    """For each signal, the exception the next consumer raised is the very one the caller gets."""
    sink.error = error
    processor = create(name, sink)

    async def scenario() -> list[Any]:
        await processor.start(host)
        outcomes = []
        for method, request in requests().items():
            try:
                await getattr(processor, method)(request)
            except Exception as exc:
                outcomes.append(exc)
        await processor.shutdown()
        return outcomes

    outcomes = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert len(outcomes) == 3 and all(outcome is error for outcome in outcomes)


@pytest.mark.parametrize("name", PROCESSORS)
def test_every_signal_passes_with_defaults(sink: Any, host: Any, name: str) -> None:
    """With default settings metrics, logs and traces all reach the next consumer before the call returns."""
    processor = create(name, sink)

    async def scenario() -> None:
        await processor.start(host)
        for method, request in requests().items():
            await getattr(processor, method)(request)
            assert sink.calls == list(requests()).index(method) + 1
        await processor.shutdown()
        await processor.shutdown()

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert (len(sink.metrics), len(sink.logs), len(sink.traces)) == (1, 1, 1)
