"""A started prometheus exporter on a loopback port, fed OTLP requests and scraped over HTTP."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire import semconv
from trainwire.anyvalue import set_any_value, to_attributes
from trainwire.collector.component import ComponentID
from trainwire.exporters.prometheus import PrometheusExporter, PrometheusExporterConfig
from trainwire.testing import ComponentHost as Host

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """One exporter, its clock and host; ``scrape`` GETs /metrics like Prometheus."""

    def __init__(self, **settings: Any) -> None:
        self.clock = Clock()
        self.host = Host()
        config = PrometheusExporterConfig(endpoint="127.0.0.1:0", **settings)
        self.exporter = PrometheusExporter(config, id=ComponentID("prometheus"), clock=self.clock)
        asyncio.run(self.exporter.start(self.host))

    def send(self, request: ExportMetricsServiceRequest | ExportLogsServiceRequest) -> None:
        if isinstance(request, ExportMetricsServiceRequest):
            asyncio.run(self.exporter.consume_metrics(request))
        else:
            asyncio.run(self.exporter.consume_logs(request))

    def scrape(self, accept: str = "", path: str = "/metrics") -> tuple[str, str]:
        """(content type, body) of one scrape."""
        url = f"http://127.0.0.1:{self.exporter.port}{path}"
        request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers["Content-Type"], response.read().decode()

    def body(self) -> str:
        return self.scrape()[1]

    def close(self) -> None:
        asyncio.run(self.exporter.shutdown())


@pytest.fixture
def harness() -> Iterator[Harness]:
    """An exporter with the default settings (but a loopback port 0 and a hand-moved clock)."""
    started = Harness()
    yield started
    started.close()


def run_resource(run_id: str = "r1", rank: int = 0, **more: Any) -> dict[str, Any]:
    """The resource attributes the trainwire SDK sends for one rank of a run."""
    return {
        semconv.SERVICE_NAME: "mnist",
        semconv.SERVICE_INSTANCE_ID: semconv.service_instance_id(run_id, rank),
        semconv.ML_RUN_ID: run_id,
        semconv.ML_EXPERIMENT_NAME: "mnist",
        semconv.ML_RUN_RANK: rank,
        semconv.HOST_NAME: "node-1",
        **more,
    }


def metrics_request(
    resource: Mapping[str, Any], scope: str = "trainwire", version: str = ""
) -> tuple[ExportMetricsServiceRequest, Any]:
    """An empty request for one resource and scope; returns it and its scope's metric list."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.extend(to_attributes(resource))
    sm = rm.scope_metrics.add()
    sm.scope.name, sm.scope.version = scope, version
    return request, sm.metrics


def gauge(
    metrics: Any, name: str, value: float, *, t: int = 1, unit: str = "", **attrs: Any
) -> None:
    """Append a one-point Gauge."""
    point = metrics.add(name=name, unit=unit).gauge.data_points.add(time_unix_nano=t)
    point.as_double = value
    point.attributes.extend(to_attributes(attrs))


def event(resource: Mapping[str, Any], name: str, body: Any) -> ExportLogsServiceRequest:
    """A run event as the SDK sends it (``event_name`` and the ``event.name`` attribute)."""
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.attributes.extend(to_attributes(resource))
    record = rl.scope_logs.add().log_records.add(time_unix_nano=1, event_name=name)
    record.attributes.extend(to_attributes({semconv.EVENT_NAME_ATTRIBUTE: name}))
    set_any_value(record.body, body)
    return request
