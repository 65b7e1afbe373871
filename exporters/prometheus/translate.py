"""OTLP metrics and run events → updates of the :class:`SeriesStore`.

Point attributes become labels (sanitized; keys that collide are joined with
``;`` in key order), the scope becomes ``otel_scope_name``/``otel_scope_version``,
the resource becomes ``job``/``instance`` and ``target_info``. A trainwire run's
resource adds ``run_id``, ``experiment`` and ``rank`` (``run_name`` is filled at
scrape, since runs are renamed by events); ``ml.step`` is never a label.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from trainwire import semconv
from trainwire.anyvalue import from_any_value
from trainwire.exporters.prometheus.config import PrometheusExporterConfig
from trainwire.exporters.prometheus.naming import label_name, metric_name, unit_words
from trainwire.exporters.prometheus.series import Family, Histogram, Resource, SeriesStore, Summary
from trainwire.records import event_name

__all__ = ["RUN_LABELS", "Translator"]

RUN_LABELS = ("run_id", "run_name", "experiment", "rank")
"""Labels of every series of a trainwire run, in this order."""

_DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
_NO_RECORDED_VALUE = 1
_SERVICE_KEYS = {semconv.SERVICE_NAME, semconv.SERVICE_INSTANCE_ID, "service.namespace"}


@functools.lru_cache(maxsize=4096)
def _label(key: str) -> str:
    return label_name(key)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return "" if value is None else str(value)


def labels_of(
    attributes: Iterable[KeyValue], *, skip: frozenset[str] = frozenset()
) -> dict[str, str]:
    """Attributes as labels; keys that sanitize alike are joined with ``;`` in key order.

    ``skip`` holds keys, and label names no attribute may take (``run.id`` → ``run_id``
    on a run's point must not replace the run's own label).
    """
    pairs = sorted((kv.key, kv) for kv in attributes if kv.key not in skip)
    labels: dict[str, str] = {}
    for key, kv in pairs:
        name = _label(key)
        if name in skip:
            continue
        value = _text(from_any_value(kv.value))
        labels[name] = f"{labels[name]};{value}" if name in labels else value
    return labels


class Translator:
    """Turns requests into store updates, by the config's naming rules."""

    def __init__(self, store: SeriesStore, config: PrometheusExporterConfig) -> None:
        self.store = store
        self.config = config
        self._const = dict(config.const_labels)
        self._copied = set(config.resource_to_labels)
        self._names: dict[tuple[str, str, str], Family] = {}

    def consume_metrics(self, request: ExportMetricsServiceRequest) -> int:
        """Apply every point of ``request``; return how many were taken."""
        taken = 0
        for rm in request.resource_metrics:
            key = tuple(
                sorted((kv.key, _text(from_any_value(kv.value))) for kv in rm.resource.attributes)
            )
            resource_id = self.store.resource_id(key, functools.partial(self._resource, dict(key)))
            is_run = any(k == semconv.ML_RUN_ID for k, _ in key)
            skip = frozenset({semconv.METRIC_STEP, *(RUN_LABELS if is_run else ())})
            for sm in rm.scope_metrics:
                scope: dict[str, str] = {}
                if sm.scope.name:
                    scope["otel_scope_name"] = sm.scope.name
                if sm.scope.version:
                    scope["otel_scope_version"] = sm.scope.version
                fixed = {**scope, **self.store_resource_labels(resource_id)}
                for metric in sm.metrics:
                    taken += self._metric(metric, resource_id, fixed, skip)
        return taken

    def store_resource_labels(self, resource_id: int) -> dict[str, str]:
        """The labels a resource puts on each of its series."""
        info = self.store.resource_info(resource_id)
        return info.series_labels if info is not None else {}

    def _resource(self, attrs: dict[str, str]) -> Resource:
        name = attrs.get(semconv.SERVICE_NAME, "")
        namespace = attrs.get("service.namespace", "")
        job = f"{namespace}/{name}" if namespace and name else name
        own = {"job": job, "instance": attrs.get(semconv.SERVICE_INSTANCE_ID, "")}
        own = {k: v for k, v in own.items() if v}
        copied = {_label(k): v for k, v in sorted(attrs.items()) if k in self._copied}
        target: dict[str, str] = dict(own)
        for key, value in sorted(attrs.items()):
            if key not in _SERVICE_KEYS:
                name_ = _label(key)
                target[name_] = f"{target[name_]};{value}" if name_ in target else value
        return Resource(
            series_labels={**copied, **own, **self._const},
            target_labels=target,
            run_id=attrs.get(semconv.ML_RUN_ID, ""),
            run_name=attrs.get(semconv.ML_RUN_NAME, ""),
            experiment=attrs.get(semconv.ML_EXPERIMENT_NAME, ""),
            rank=attrs.get(semconv.ML_RUN_RANK, ""),
        )

    def _family(self, metric: Metric, kind: str, *, gauge: bool = False) -> Family:
        found = self._names.get((metric.name, metric.unit, kind + ("g" if gauge else "")))
        if found is None:
            name = metric_name(
                metric.name,
                metric.unit,
                gauge=gauge,
                counter=kind == "counter",
                suffixes=self.config.add_metric_suffixes,
                namespace=self.config.namespace,
            )
            word = unit_words(metric.unit, gauge=gauge)
            unit = word if word and name.endswith("_" + word) else ""
            # Without a description, the help names the OpenTelemetry metric it came from.
            found = Family(name, kind, metric.description or metric.name, unit)
            self._names[(metric.name, metric.unit, kind + ("g" if gauge else ""))] = found
        return found

    def _metric(
        self, metric: Metric, resource: int, fixed: dict[str, str], skip: frozenset[str]
    ) -> int:
        data = metric.WhichOneof("data")
        if data == "gauge" or data == "sum":
            return self._numbers(metric, resource, fixed, skip)
        taken = 0
        for point, value, delta in _distributions(metric):
            family = self._family(metric, "summary" if data == "summary" else "histogram")
            labels = {**labels_of(point.attributes, skip=skip), **fixed}
            created = point.start_time_unix_nano / 1e9 if point.start_time_unix_nano else None
            taken += self.store.update(
                family,
                resource,
                labels,
                value,
                time_ns=point.time_unix_nano,
                created=created,
                delta=delta,
            )
        return taken

    def _numbers(
        self, metric: Metric, resource: int, fixed: dict[str, str], skip: frozenset[str]
    ) -> int:
        is_sum = metric.WhichOneof("data") == "sum"
        monotonic = is_sum and metric.sum.is_monotonic
        delta = is_sum and metric.sum.aggregation_temporality == _DELTA
        family = self._family(metric, "counter" if monotonic else "gauge", gauge=not is_sum)
        taken = 0
        for p in metric.sum.data_points if is_sum else metric.gauge.data_points:
            if p.flags & _NO_RECORDED_VALUE:
                continue
            value = p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)
            labels = {**labels_of(p.attributes, skip=skip), **fixed}
            start = p.start_time_unix_nano
            taken += self.store.update(
                family,
                resource,
                labels,
                value,
                time_ns=p.time_unix_nano,
                created=start / 1e9 if monotonic and start else None,
                delta=delta,
            )
        return taken

    def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Follow runs' names and ends from their events."""
        for rl in request.resource_logs:
            attrs = {kv.key: _text(from_any_value(kv.value)) for kv in rl.resource.attributes}
            run_id = attrs.get(semconv.ML_RUN_ID)
            if not run_id:
                continue
            rank = attrs.get(semconv.ML_RUN_RANK, "")
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    self._event(run_id, rank, record)

    def _event(self, run_id: str, rank: str, record: LogRecord) -> None:
        name = event_name(record)
        if name == semconv.EVENT_RUN_END:
            self.store.run_ended(run_id, rank)
        elif name in (semconv.EVENT_RUN_START, semconv.EVENT_RUN_RENAME):
            body = from_any_value(record.body) if record.HasField("body") else None
            if isinstance(body, dict) and isinstance(body.get("name"), str) and body["name"]:
                self.store.run_named(run_id, body["name"])
            if name == semconv.EVENT_RUN_START:
                self.store.run_started(run_id, rank)


def _distributions(metric: Metric) -> Iterator[tuple[Any, Histogram | Summary, bool]]:
    """(point, value, is delta) of each recorded histogram or summary point."""
    data = metric.WhichOneof("data")
    if data == "histogram":
        delta = metric.histogram.aggregation_temporality == _DELTA
        for h in metric.histogram.data_points:
            if not h.flags & _NO_RECORDED_VALUE:
                yield h, _buckets(h), delta
    elif data == "exponential_histogram":
        delta = metric.exponential_histogram.aggregation_temporality == _DELTA
        for e in metric.exponential_histogram.data_points:
            if not e.flags & _NO_RECORDED_VALUE:
                yield e, _explicit(e), delta
    elif data == "summary":
        for s in metric.summary.data_points:
            if not s.flags & _NO_RECORDED_VALUE:
                quantiles = tuple((q.quantile, q.value) for q in s.quantile_values)
                yield s, Summary(quantiles, s.count, s.sum), False


def _buckets(point: Any) -> Histogram:
    bounds, counts = tuple(point.explicit_bounds), tuple(point.bucket_counts)
    if len(counts) != len(bounds) + 1:  # no buckets sent: only the count and sum
        bounds, counts = (), (point.count,)
    return Histogram(bounds, counts, point.count, point.sum if point.HasField("sum") else None)


def _explicit(point: Any) -> Histogram:
    """An exponential histogram as explicit buckets with the same boundaries (exact)."""
    base = 2.0 ** (2.0**-point.scale)
    bounds: list[float] = []
    counts: list[int] = []
    negative = point.negative
    for i in reversed(range(len(negative.bucket_counts))):
        bounds.append(-(base ** (negative.offset + i)))
        counts.append(negative.bucket_counts[i])
    bounds.append(point.zero_threshold)
    counts.append(point.zero_count)
    positive = point.positive
    for i, count in enumerate(positive.bucket_counts):
        upper = base ** (positive.offset + i + 1)
        if math.isinf(upper):
            break
        bounds.append(upper)
        counts.append(count)
    counts.append(point.count - sum(counts))
    total = point.sum if point.HasField("sum") else None
    return Histogram(tuple(bounds), tuple(counts), point.count, total)
