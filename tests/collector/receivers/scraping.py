"""Helpers of the nvml and hostmetrics receiver tests: run one in-process, read its points."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire.anyvalue import attributes_to_dict
from trainwire.testing import ComponentHost as Host


class Sink:
    """Records the metric requests a receiver emits."""

    def __init__(self) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        self.requests.append(request)


def collect_once(receiver: Any, sink: Sink, until: Callable[[], bool] | None = None) -> Host:
    """Start ``receiver``, wait for its first collection (or ``until()``), shut it down."""
    host = Host()
    done = until or (lambda: bool(sink.requests))

    async def run() -> None:
        await receiver.start(host)
        try:
            for _ in range(1000):
                if done():
                    return
                await asyncio.sleep(0.01)
            raise AssertionError("the receiver emitted nothing within 10 s")
        finally:
            await receiver.shutdown()

    asyncio.run(run())
    return host


Point = tuple[str, str, float, dict[str, Any], dict[str, Any]]
"""(metric name, unit, value, point attributes, resource attributes)."""


def points(requests: list[ExportMetricsServiceRequest]) -> list[Point]:
    """Every gauge and sum point of ``requests``, flattened."""
    out: list[Point] = []
    for request in requests:
        for rm in request.resource_metrics:
            resource = attributes_to_dict(rm.resource.attributes)
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    data = getattr(metric, metric.WhichOneof("data") or "gauge")
                    for point in data.data_points:
                        value = point.as_double if point.HasField("as_double") else point.as_int
                        attrs = attributes_to_dict(point.attributes)
                        out.append((metric.name, metric.unit, value, attrs, resource))
    return out
