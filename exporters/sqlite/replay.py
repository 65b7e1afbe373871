"""Read runs back out of a store as OTLP requests, to push them to another collector.

What ``trainwire sync --to`` sends for an embedded ``trainwire.db``: each run's
resources with their metric points (``ml.step`` points rebuilt from the steps),
histograms, and events with their original ``log.record.uid``, so a collector that
already has some of it stores each point and event once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import set_any_value, to_attributes
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.series_read import read_points
from trainwire.spool import SIGNAL_LOGS, SIGNAL_METRICS

__all__ = ["SIGNAL_LOGS", "SIGNAL_METRICS", "replay_run", "run_ids"]

_POINTS_PER_REQUEST = 20_000
_EVENTS_PER_REQUEST = 2_000


def run_ids(path: Path) -> list[str]:
    """Every run in the store, oldest first."""
    conn = connect(path)
    try:
        rows = conn.execute("SELECT run_id FROM runs ORDER BY coalesce(start_time, 0), run_id")
        return [r[0] for r in rows]
    finally:
        conn.close()


def replay_run(path: Path, run_id: str) -> Iterator[tuple[int, bytes]]:
    """``(signal, encoded request)`` pairs carrying everything the store has of one run."""
    conn = connect(path)
    try:
        resources = conn.execute(
            "SELECT id, attributes FROM resources WHERE run_id = ?", (run_id,)
        ).fetchall()
        for resource_id, attributes in resources:
            resource = Resource(attributes=to_attributes(json.loads(attributes)))
            yield from _metrics(conn, resource_id, resource)
            yield from _events(conn, resource_id, resource)
    finally:
        conn.close()


def _metrics(
    conn: sqlite3.Connection, resource_id: int, resource: Resource
) -> Iterator[tuple[int, bytes]]:
    series = conn.execute(
        "SELECT id, scope_name, scope_version, name, type, unit, attributes FROM series"
        " WHERE resource_id = ? ORDER BY scope_name, name",
        (resource_id,),
    ).fetchall()
    for sid, scope, version, name, kind, unit, attributes in series:
        if kind in ("gauge", "sum"):
            stored = read_points(conn, sid)
            rows = list(zip(stored.times, stored.values, stored.steps, strict=True))
        elif kind == "histogram":
            rows = conn.execute(
                "SELECT time, step, count, sum, min, max, data FROM distributions"
                " WHERE series_id = ? ORDER BY time",
                (sid,),
            ).fetchall()
        else:
            continue  # exponential histograms and summaries are not replayed yet
        for start in range(0, len(rows), _POINTS_PER_REQUEST):
            chunk = rows[start : start + _POINTS_PER_REQUEST]
            request = ExportMetricsServiceRequest()
            rm = request.resource_metrics.add()
            rm.resource.CopyFrom(resource)
            sm = rm.scope_metrics.add()
            sm.scope.name, sm.scope.version = scope, version
            metric = sm.metrics.add(name=name, unit=unit)
            labels = to_attributes(json.loads(attributes))
            if kind == "histogram":
                _histogram_points(metric, chunk, labels)
            else:
                points = (metric.gauge if kind == "gauge" else metric.sum).data_points
                if kind == "sum":
                    metric.sum.aggregation_temporality = (
                        AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
                    )
                for t, value, _ in chunk:
                    point = points.add(time_unix_nano=t, as_double=_double(value))
                    point.attributes.extend(labels)
            if scope == semconv.SCOPE_NAME:
                steps = sm.metrics.add(name=semconv.METRIC_STEP).gauge.data_points
                for row in chunk:
                    t, step = row[0], row[2] if kind != "histogram" else row[1]
                    if step is not None:
                        steps.add(time_unix_nano=t, as_int=step)
            yield SIGNAL_METRICS, request.SerializeToString()


def _histogram_points(metric: Any, rows: list[Any], labels: list[Any]) -> None:
    metric.histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    for t, _, count, total, low, high, data in rows:
        parsed = json.loads(data)
        point = metric.histogram.data_points.add(
            time_unix_nano=t,
            count=count,
            explicit_bounds=parsed.get("bounds", []),
            bucket_counts=parsed.get("counts", []),
        )
        if total is not None:
            point.sum = total
        if low is not None:
            point.min = low
        if high is not None:
            point.max = high
        point.attributes.extend(labels)


def _events(
    conn: sqlite3.Connection, resource_id: int, resource: Resource
) -> Iterator[tuple[int, bytes]]:
    rows = conn.execute(
        "SELECT uid, name, time, severity_number, severity_text, body, attributes FROM events"
        " WHERE resource_id = ? ORDER BY time",
        (resource_id,),
    ).fetchall()
    for start in range(0, len(rows), _EVENTS_PER_REQUEST):
        request = ExportLogsServiceRequest()
        rl = request.resource_logs.add()
        rl.resource.CopyFrom(resource)
        sl = rl.scope_logs.add()
        sl.scope.name = semconv.SCOPE_NAME
        for uid, name, t, severity, severity_text, body, attributes in rows[
            start : start + _EVENTS_PER_REQUEST
        ]:
            record = sl.log_records.add(
                time_unix_nano=t,
                observed_time_unix_nano=t,
                severity_number=severity,
                severity_text=severity_text,
                event_name=name or "",
            )
            if body is not None:
                set_any_value(record.body, json.loads(body))
            attrs = json.loads(attributes)
            attrs.setdefault(semconv.LOG_RECORD_UID, uid)  # keep the identity it was stored under
            record.attributes.extend(to_attributes(attrs))
        yield SIGNAL_LOGS, request.SerializeToString()


def _double(value: float | None) -> float:
    return float("nan") if value is None else float(value)
