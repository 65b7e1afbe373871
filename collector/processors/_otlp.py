"""OTLP request plumbing shared by the processors: count, filter, split and merge items.

The three export requests share one shape: a list of resources, each with a list
of scopes, each with a list of items (metrics, log records, spans). An *item
unit* is what the Collector counts: a data point, a log record, a span. Helpers
here build new requests and never modify the ones they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.collector.component import Signal

__all__ = [
    "Layout",
    "Request",
    "copy_except",
    "count_items",
    "data_points",
    "forward",
    "keep_items",
    "layout_of",
    "merge",
    "split",
]

Request = TypeVar(
    "Request", ExportMetricsServiceRequest, ExportLogsServiceRequest, ExportTraceServiceRequest
)


@dataclass(frozen=True)
class Layout:
    """Field names of one signal's request, and the consumer method that takes it."""

    signal: Signal
    resources: str
    scopes: str
    items: str
    units: str
    """How the Collector's own metrics name the unit: metric_points, log_records, spans."""

    @property
    def method(self) -> str:
        """``consume_metrics``, ``consume_logs`` or ``consume_traces``."""
        return f"consume_{self.signal.value}"


_LAYOUTS: dict[type[Any], Layout] = {
    ExportMetricsServiceRequest: Layout(
        Signal.METRICS, "resource_metrics", "scope_metrics", "metrics", "metric_points"
    ),
    ExportLogsServiceRequest: Layout(
        Signal.LOGS, "resource_logs", "scope_logs", "log_records", "log_records"
    ),
    ExportTraceServiceRequest: Layout(
        Signal.TRACES, "resource_spans", "scope_spans", "spans", "spans"
    ),
}


def layout_of(request: Any) -> Layout:
    """The layout of an export request; raise TypeError for anything else."""
    try:
        return _LAYOUTS[type(request)]
    except KeyError:
        raise TypeError(f"not an OTLP export request: {type(request).__name__}") from None


async def forward(consumer: Any, request: Any) -> None:
    """Hand ``request`` to the consumer method of its signal."""
    await getattr(consumer, layout_of(request).method)(request)


def data_points(metric: Any) -> Sequence[Any]:
    """The data points of a metric, whatever its type (none when no data is set)."""
    kind = metric.WhichOneof("data")
    return getattr(metric, kind).data_points if kind else ()


def _weight(layout: Layout, item: Any) -> int:
    return len(data_points(item)) if layout.signal is Signal.METRICS else 1


def count_items(request: Any) -> int:
    """Data points, log records or spans in ``request``."""
    layout = layout_of(request)
    return sum(
        _weight(layout, item)
        for resource in getattr(request, layout.resources)
        for scope in getattr(resource, layout.scopes)
        for item in getattr(scope, layout.items)
    )


def copy_except(target: Any, source: Any, skip: str) -> None:
    """Copy every set field of ``source`` into ``target`` but ``skip``: a shell without children."""
    for descriptor, value in source.ListFields():
        if descriptor.name == skip:
            continue
        if descriptor.is_repeated:
            getattr(target, descriptor.name).extend(value)
        elif descriptor.message_type is not None:
            getattr(target, descriptor.name).CopyFrom(value)
        else:
            setattr(target, descriptor.name, value)


def keep_items(request: Request, keep: Callable[[Any], bool]) -> tuple[Request, int]:
    """Return ``request`` without the items ``keep`` refuses, and how many units went.

    The request itself is returned when nothing is dropped; otherwise a new one,
    without the scopes and resources left empty.
    """
    layout = layout_of(request)
    dropped = 0
    kept: list[list[list[Any]]] = []
    for resource in getattr(request, layout.resources):
        kept.append([])
        for scope in getattr(resource, layout.scopes):
            kept[-1].append([])
            for item in getattr(scope, layout.items):
                if keep(item):
                    kept[-1][-1].append(item)
                else:
                    dropped += _weight(layout, item)
    if not dropped:
        return request, 0
    result = type(request)()
    for resource, kept_scopes in zip(getattr(request, layout.resources), kept, strict=True):
        target = None
        for scope, items in zip(getattr(resource, layout.scopes), kept_scopes, strict=True):
            if not items:
                continue
            if target is None:
                target = getattr(result, layout.resources).add()
                copy_except(target, resource, layout.scopes)
            new_scope = getattr(target, layout.scopes).add()
            copy_except(new_scope, scope, layout.items)
            getattr(new_scope, layout.items).extend(items)
    return result, dropped


def _units(
    request: Any, layout: Layout
) -> Iterator[tuple[tuple[int, int, int], Any, Any, Any, Any]]:
    """Each unit with the position of its item and its resource, scope, item and point."""
    for r, resource in enumerate(getattr(request, layout.resources)):
        for s, scope in enumerate(getattr(resource, layout.scopes)):
            for i, item in enumerate(getattr(scope, layout.items)):
                if layout.signal is not Signal.METRICS:
                    yield (r, s, i), resource, scope, item, None
                    continue
                for point in data_points(item):
                    yield (r, s, i), resource, scope, item, point


def split(request: Request, first: int, size: int) -> list[Request]:
    """Cut ``request`` into requests of ``first`` units, then of ``size`` units each.

    The last request may hold fewer. A metric is cut between its data points
    (each part keeps the metric's name, type and temporality); items without any
    unit (a metric with no points) carry no data and are not kept.
    """
    if first < 1 or size < 1:
        raise ValueError("split sizes must be at least 1")
    layout = layout_of(request)
    chunks: list[Request] = []
    left = 0
    at = (-1, -1, -1)
    new_resource = new_scope = new_item = chunk = None
    for position, resource, scope, item, point in _units(request, layout):
        if left == 0:
            chunk = type(request)()
            chunks.append(chunk)
            left = first if len(chunks) == 1 else size
            at = (-1, -1, -1)
        if position[0] != at[0]:
            new_resource = getattr(chunk, layout.resources).add()
            copy_except(new_resource, resource, layout.scopes)
        if position[:2] != at[:2]:
            new_scope = getattr(new_resource, layout.scopes).add()
            copy_except(new_scope, scope, layout.items)
        if point is None:
            getattr(new_scope, layout.items).add().CopyFrom(item)
        else:
            kind = item.WhichOneof("data")
            if position != at:
                new_item = getattr(new_scope, layout.items).add()
                copy_except(new_item, item, kind)
                copy_except(getattr(new_item, kind), getattr(item, kind), "data_points")
            getattr(new_item, kind).data_points.add().CopyFrom(point)
        at = position
        left -= 1
    return chunks


def merge(requests: Sequence[Request], *, merge_resources: bool) -> Request:
    """One request holding every resource of ``requests``, in order.

    With ``merge_resources``, resources that are equal (attributes, schema URL)
    become one, holding the scopes of each. A single request is returned as is.
    """
    if len(requests) == 1:
        return requests[0]
    layout = layout_of(requests[0])
    result = type(requests[0])()
    resources = getattr(result, layout.resources)
    if not merge_resources:
        for request in requests:
            resources.extend(getattr(request, layout.resources))
        return result
    by_key: dict[bytes, Any] = {}
    for request in requests:
        for resource in getattr(request, layout.resources):
            shell = type(resource)()
            copy_except(shell, resource, layout.scopes)
            key = shell.SerializeToString(deterministic=True)
            target = by_key.get(key)
            if target is None:
                target = by_key[key] = resources.add()
                target.CopyFrom(shell)
            getattr(target, layout.scopes).extend(getattr(resource, layout.scopes))
    return result
