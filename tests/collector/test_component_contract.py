"""Every registered factory honours the Collector's lifecycle contract."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.collector import ComponentID, Factory, Kind, Signal, default_factories
from trainwire.collector.confmap import decode
from trainwire.collector.extensions.storage import StorageConfig, StorageExtension
from trainwire.testing import ComponentHost as Host

FACTORIES = [f for group in default_factories().values() for f in group.values()]


class Sink:
    """Records what a receiver or processor hands on."""

    def __init__(self) -> None:
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.logs: list[ExportLogsServiceRequest] = []
        self.traces: list[ExportTraceServiceRequest] = []

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        self.metrics.append(request)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        self.logs.append(request)

    async def consume_traces(self, request: ExportTraceServiceRequest) -> None:
        self.traces.append(request)


_NO_WAIT_QUEUE = {"sending_queue": {"storage": "storage", "drain_timeout_s": 0}}


def _test_config(factory: Factory, tmp_path: Path) -> Any:
    """Defaults, with anything that would touch the machine's fixed places moved to tmp_path/port 0."""
    otlp_receiver = {"grpc": {"endpoint": "127.0.0.1:0"}, "http": {"endpoint": "127.0.0.1:0"}}
    overrides: dict[Any, Any] = {
        (Kind.RECEIVER, "otlp"): {"protocols": otlp_receiver},
        "sqlite": {"path": str(tmp_path / "store.db"), "sending_queue": {"storage": "storage"}},
        "storage": {"directory": str(tmp_path / "data")},
        "health_check": {"endpoint": "127.0.0.1:0"},
        (Kind.EXPORTER, "prometheus"): {"endpoint": "127.0.0.1:0"},
        (Kind.EXPORTER, "otlp"): {"endpoint": "http://127.0.0.1:1", **_NO_WAIT_QUEUE},
        (Kind.EXPORTER, "otlphttp"): {"endpoint": "http://127.0.0.1:1", **_NO_WAIT_QUEUE},
        "discord": {"webhook_url": "http://127.0.0.1:1/api/webhooks/1/t", **_NO_WAIT_QUEUE},
    }
    overrides = overrides.get((factory.kind, factory.type), overrides.get(factory.type, {}))
    problems: list[str] = []
    config = decode(type(factory.default_config()), overrides, factory.type, problems)
    assert problems == []
    return config


def _batch() -> tuple[ExportMetricsServiceRequest, ExportLogsServiceRequest]:
    metrics = ExportMetricsServiceRequest()
    metric = metrics.resource_metrics.add().scope_metrics.add().metrics.add(name="m")
    metric.gauge.data_points.add(time_unix_nano=1, as_double=1.0)
    logs = ExportLogsServiceRequest()
    logs.resource_logs.add().scope_logs.add().log_records.add(
        time_unix_nano=1
    ).body.string_value = "x"
    return metrics, logs


def _spans() -> ExportTraceServiceRequest:
    traces = ExportTraceServiceRequest()
    span = traces.resource_spans.add().scope_spans.add().spans.add(name="s")
    span.trace_id, span.span_id = b"\x01" * 16, b"\x02" * 8
    return traces


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f"{f.kind.value}/{f.type}")
def test_create_start_consume_shutdown_twice(factory: Factory, tmp_path: Path) -> None:
    """Created from defaults, a component starts, takes a batch, and shuts down twice safely."""
    config = _test_config(factory, tmp_path)
    assert dataclasses.is_dataclass(config)
    with pytest.raises(dataclasses.FrozenInstanceError):  # configs are frozen
        setattr(config, dataclasses.fields(config)[0].name, None)
    sink = Sink()
    kwargs: dict[str, Any] = {"id": ComponentID(factory.type)}
    if factory.kind is Kind.RECEIVER:
        kwargs["next_consumers"] = {signal: sink for signal in factory.signals}
    elif factory.kind is Kind.PROCESSOR:
        kwargs["next_consumer"] = sink
    component = factory.create(config, **kwargs)

    storage = StorageExtension(
        StorageConfig(directory=str(tmp_path / "host-data")), id=ComponentID("storage")
    )

    async def lifecycle() -> None:
        await storage.start(Host(storage))
        await component.shutdown()  # safe before start
        await component.start(Host(storage))
        metrics, logs = _batch()
        if hasattr(component, "consume_metrics") and Signal.METRICS in factory.signals:
            await component.consume_metrics(metrics)
        if hasattr(component, "consume_logs") and Signal.LOGS in factory.signals:
            await component.consume_logs(logs)
        if hasattr(component, "consume_traces") and Signal.TRACES in factory.signals:
            await component.consume_traces(_spans())
        await component.shutdown()
        await component.shutdown()
        await storage.shutdown()

    asyncio.run(asyncio.wait_for(lifecycle(), 30))
    if factory.kind is Kind.PROCESSOR:
        assert len(sink.metrics) == 1 and len(sink.logs) == 1
        assert len(sink.traces) == (1 if Signal.TRACES in factory.signals else 0)
