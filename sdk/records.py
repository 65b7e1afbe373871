"""What ``Run`` methods put in the buffer, and how a batch of them becomes OTLP.

Records are plain tuples so ``log()`` stays cheap on the training thread; the
background sender turns a batch into one metrics and one logs request.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import from_any_value, set_any_value, to_attributes

__all__ = [
    "HistogramRecord",
    "EncodedRequest",
    "EventRecord",
    "MetricRecord",
    "artifact_digests",
    "encode_events",
    "encode_metrics",
    "event_name",
    "new_uid",
]


class MetricRecord(NamedTuple):
    """One ``log()`` call: its time, step, and already-validated values.

    A NamedTuple rather than a dataclass: it is made on the training thread for every call.
    """

    time_unix_nano: int
    step: int
    values: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One run event (``ml.run.*``, ``ml.alert``, ...), with its identity made at creation."""

    time_unix_nano: int
    name: str
    body: Any
    uid: str
    attributes: Mapping[str, Any] | None = None


class HistogramRecord(NamedTuple):
    """One ``log_histogram()`` call: a distribution at a step, as explicit-bucket counts."""

    time_unix_nano: int
    step: int
    key: str
    bounds: list[float]
    counts: list[int]
    total: float
    minimum: float
    maximum: float


class EncodedRequest(NamedTuple):
    """An OTLP request already encoded elsewhere (plain OTel meters of the run)."""

    signal: int
    payload: bytes


def new_uid() -> str:
    """Return a fresh ``log.record.uid``."""
    return uuid.uuid4().hex


def encode_metrics(
    resource: Resource,
    scope: InstrumentationScope,
    records: Sequence[MetricRecord | HistogramRecord],
) -> ExportMetricsServiceRequest:
    """One Gauge per key with a point per call, plus the ``ml.step`` Gauge at the same times.

    A histogram record becomes one (delta) Histogram point of its key at its time.
    """
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.CopyFrom(resource)
    sm = rm.scope_metrics.add()
    sm.scope.CopyFrom(scope)
    by_name: dict[str, Any] = {}
    step_points = sm.metrics.add(name=semconv.METRIC_STEP).gauge.data_points
    histograms: dict[str, Any] = {}
    for record in records:
        t = record.time_unix_nano
        step_points.add(time_unix_nano=t, as_int=record.step)
        if isinstance(record, HistogramRecord):
            _add_histogram(sm, histograms, record)
            continue
        for key, value in record.values.items():
            points = by_name.get(key)
            if points is None:
                points = by_name[key] = sm.metrics.add(name=key).gauge.data_points
            points.add(time_unix_nano=t, as_double=value)
    return request


def _add_histogram(sm: Any, histograms: dict[str, Any], record: HistogramRecord) -> None:
    metric = histograms.get(record.key)
    if metric is None:
        metric = histograms[record.key] = sm.metrics.add(name=record.key).histogram
        metric.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    metric.data_points.add(
        time_unix_nano=record.time_unix_nano,
        count=sum(record.counts),
        sum=record.total,
        min=record.minimum,
        max=record.maximum,
        explicit_bounds=record.bounds,
        bucket_counts=record.counts,
    )


def encode_events(
    resource: Resource, scope: InstrumentationScope, records: Sequence[EventRecord]
) -> ExportLogsServiceRequest:
    """One LogRecord per event, named both by ``event_name`` and the ``event.name`` attribute."""
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.CopyFrom(resource)
    sl = rl.scope_logs.add()
    sl.scope.CopyFrom(scope)
    for record in records:
        log = sl.log_records.add(
            time_unix_nano=record.time_unix_nano,
            observed_time_unix_nano=record.time_unix_nano,
            event_name=record.name,
        )
        if record.body is not None:
            set_any_value(log.body, record.body)
        attributes = {semconv.EVENT_NAME_ATTRIBUTE: record.name, semconv.LOG_RECORD_UID: record.uid}
        if record.attributes:
            attributes.update(record.attributes)
        log.attributes.extend(to_attributes(attributes))
    return request


def event_name(record: LogRecord) -> str:
    """A LogRecord's event name: its ``event_name`` field, else the older ``event.name``
    attribute (senders on older OpenTelemetry SDKs), else ``""``."""
    if record.event_name:
        return record.event_name
    for kv in record.attributes:
        if kv.key == semconv.EVENT_NAME_ATTRIBUTE:
            return kv.value.string_value
    return ""


def artifact_digests(request: ExportLogsServiceRequest) -> list[str]:
    """The ``sha256`` strings that the ``ml.artifact`` events of ``request`` name, in
    order, each once; not checked to be digests."""
    found: dict[str, None] = {}
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                if event_name(record) != semconv.EVENT_ARTIFACT or not record.HasField("body"):
                    continue
                body = from_any_value(record.body)
                sha256 = body.get("sha256") if isinstance(body, dict) else None
                if isinstance(sha256, str):
                    found[sha256] = None
    return list(found)
