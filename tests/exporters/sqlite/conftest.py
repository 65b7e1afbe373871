"""Fixtures of the run-store tests: a real SQLite file under tmp_path and OTLP builders."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.exporters.sqlite import StoreReader
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter
from trainwire.records import EventRecord, MetricRecord, encode_events, encode_metrics

T0 = 1_700_000_000_000_000_000
"""A realistic ``time_unix_nano`` to count from."""


class Wire:
    """Builds OTLP requests the way the SDK (and plain OTel senders) put them on the wire."""

    T0 = T0
    SCOPE = InstrumentationScope(name=semconv.SCOPE_NAME, version="0.1.0")

    def __init__(self) -> None:
        self._uids = 0

    def resource(
        self,
        run_id: str = "a1b2c3d4e5f6",
        *,
        rank: int = 0,
        world_size: int = 1,
        experiment: str = "mnist",
        **extra: Any,
    ) -> Resource:
        """Return a run's Resource with the attributes ``trainwire.init()`` sets."""
        attributes: dict[str, Any] = {
            semconv.ML_RUN_ID: run_id,
            semconv.ML_EXPERIMENT_NAME: experiment,
            semconv.SERVICE_NAME: experiment,
            semconv.SERVICE_INSTANCE_ID: semconv.service_instance_id(run_id, rank),
            semconv.ML_RUN_RANK: rank,
            semconv.ML_RUN_WORLD_SIZE: world_size,
            semconv.HOST_NAME: f"node-{rank}",
            semconv.PROCESS_PID: 4000 + rank,
        }
        attributes.update(extra)
        return Resource(attributes=to_attributes(attributes))

    def log(
        self, resource: Resource, *calls: tuple[int, int, Mapping[str, float]]
    ) -> ExportMetricsServiceRequest:
        """Return the metrics request of ``log()`` calls given as (time, step, values)."""
        records = [MetricRecord(t, step, dict(values)) for t, step, values in calls]
        return encode_metrics(resource, self.SCOPE, records)

    def step_only(
        self, resource: Resource, *times_steps: tuple[int, int]
    ) -> ExportMetricsServiceRequest:
        """Return a request carrying only ``ml.step`` points, as when a batch was split."""
        return self.log(resource, *[(t, step, {}) for t, step in times_steps])

    def values_only(
        self, resource: Resource, *times_values: tuple[int, Mapping[str, float]]
    ) -> ExportMetricsServiceRequest:
        """Return a trainwire-scope request of value points without their ``ml.step`` points."""
        request = self.log(resource, *[(t, 0, values) for t, values in times_values])
        metrics = request.resource_metrics[0].scope_metrics[0].metrics
        step_metric = next(m for m in metrics if m.name == semconv.METRIC_STEP)
        metrics.remove(step_metric)
        return request

    def gauge(
        self,
        resource: Resource | None,
        name: str,
        points: Sequence[tuple[int, float, Mapping[str, Any]]],
        *,
        scope: str = "opentelemetry.instrumentation.system_metrics",
    ) -> ExportMetricsServiceRequest:
        """Return a plain OTel Gauge request with (time, value, attributes) points."""
        request = ExportMetricsServiceRequest()
        rm = request.resource_metrics.add()
        if resource is not None:
            rm.resource.CopyFrom(resource)
        sm = rm.scope_metrics.add()
        sm.scope.name = scope
        data_points = sm.metrics.add(name=name).gauge.data_points
        for time, value, attributes in points:
            point = data_points.add(time_unix_nano=time, as_double=value)
            point.attributes.extend(to_attributes(dict(attributes)))
        return request

    def events(
        self,
        resource: Resource,
        *events: tuple[int, str, Any] | tuple[int, str, Any, dict[str, Any]],
    ) -> ExportLogsServiceRequest:
        """Return the logs request of events given as (time, name, body[, attributes])."""
        records = []
        for event in events:
            time, name, body = event[0], event[1], event[2]
            attributes = event[3] if len(event) > 3 else None
            self._uids += 1
            records.append(EventRecord(time, name, body, f"uid-{self._uids:04d}", attributes))
        return encode_events(resource, self.SCOPE, records)


@pytest.fixture
def wire() -> Wire:
    """OTLP request builders."""
    return Wire()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where the test's run store lives."""
    return tmp_path / "runs" / "trainwire.db"


@pytest.fixture
def conn(store_path: Path) -> Iterator[sqlite3.Connection]:
    """An open connection to a fresh store file."""
    store_path.parent.mkdir(parents=True, exist_ok=True)
    connection = connect(store_path)
    yield connection
    connection.close()


@pytest.fixture
def writer(conn: sqlite3.Connection) -> StoreWriter:
    """The store's writer."""
    return StoreWriter(conn)


@pytest.fixture
def reader(conn: sqlite3.Connection, store_path: Path) -> Iterator[StoreReader]:
    """A reader on its own connection to the same store file."""
    with StoreReader(store_path) as store:
        yield store
