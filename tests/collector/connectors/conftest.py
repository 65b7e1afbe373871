"""Fixtures of the liveness tests: a fake clock, a started storage extension, a sink, OTLP builders."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
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
from trainwire.anyvalue import attributes_to_dict, from_any_value, to_attributes
from trainwire.collector.component import ComponentID
from trainwire.collector.extensions.storage import StorageConfig, StorageExtension
from trainwire.errors import RetryableExportError
from trainwire.records import EventRecord, MetricRecord, encode_events, encode_metrics, new_uid
from trainwire.testing import ComponentHost as Host

SCOPE = InstrumentationScope(name=semconv.SCOPE_NAME, version="0.1.0")
T0 = 1_700_000_000.0
"""The fake clock's start, in seconds."""


class FakeClock:
    """A wall clock that moves only when told."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LogsSink:
    """Records the logs requests a connector emits; can be told to refuse them."""

    def __init__(self) -> None:
        self.requests: list[ExportLogsServiceRequest] = []
        self.refuse = False
        self.die = False

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        if self.die:  # the collector is killed while the event is on its way
            raise asyncio.CancelledError
        if self.refuse:
            raise RetryableExportError("queue full", retry_after_s=1.0)
        self.requests.append(request)

    def events(self) -> list[dict[str, Any]]:
        """Every emitted record, flattened: name, uid, body, time, resource attributes."""
        found = []
        for request in self.requests:
            for rl in request.resource_logs:
                for sl in rl.scope_logs:
                    for record in sl.log_records:
                        attributes = attributes_to_dict(record.attributes)
                        found.append(
                            {
                                "event_name": record.event_name,
                                "name": attributes.get(semconv.EVENT_NAME_ATTRIBUTE),
                                "uid": attributes.get(semconv.LOG_RECORD_UID),
                                "body": from_any_value(record.body),
                                "time": record.time_unix_nano,
                                "resource": rl.resource,
                            }
                        )
        return found


class Wire:
    """Builds the OTLP requests a run sends."""

    def resource(
        self, run_id: str = "run1", rank: int = 0, world_size: int = 1, **extra: Any
    ) -> Resource:
        """A run rank's Resource, as ``trainwire.init()`` makes it."""
        attributes: dict[str, Any] = {
            semconv.ML_RUN_ID: run_id,
            semconv.ML_EXPERIMENT_NAME: "exp",
            semconv.SERVICE_NAME: "exp",
            semconv.SERVICE_INSTANCE_ID: semconv.service_instance_id(run_id, rank),
            semconv.ML_RUN_RANK: rank,
            semconv.ML_RUN_WORLD_SIZE: world_size,
            semconv.HOST_NAME: "node-a",
            semconv.PROCESS_PID: 4242,
            **extra,
        }
        return Resource(attributes=to_attributes(attributes))

    def metrics(
        self, resource: Resource, time_ns: int, step: int = 0
    ) -> ExportMetricsServiceRequest:
        """The request of one ``log({"loss": ...}, step)`` call."""
        record = MetricRecord(time_ns, step, {"loss": 1.0 / (step + 1)})
        return encode_metrics(resource, SCOPE, [record])

    def event(
        self, resource: Resource, name: str, body: Any, time_ns: int = 1
    ) -> ExportLogsServiceRequest:
        """The request of one run event."""
        return encode_events(resource, SCOPE, [EventRecord(time_ns, name, body, new_uid())])

    def heartbeat(self, resource: Resource, last_log_time: int) -> ExportLogsServiceRequest:
        """An ``ml.run.heartbeat`` reporting the time of the last ``log()`` call."""
        return self.event(resource, semconv.EVENT_RUN_HEARTBEAT, {"last_log_time": last_log_time})


@pytest.fixture
def clock() -> FakeClock:
    """A fake wall clock."""
    return FakeClock()


@pytest.fixture
def sink() -> LogsSink:
    """Where the connector's events go."""
    return LogsSink()


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[StorageExtension]:
    """A started storage extension with its files under tmp_path."""
    extension = StorageExtension(
        StorageConfig(directory=str(tmp_path / "data")), id=ComponentID("storage")
    )
    asyncio.run(extension.start(Host(None)))
    yield extension
    asyncio.run(extension.shutdown())


@pytest.fixture
def host(storage: StorageExtension) -> Host:
    """A host offering the storage extension as ``storage``."""
    return Host(storage)


@pytest.fixture
def bare_host() -> Host:
    """A host with no extensions."""
    return Host(None)


@pytest.fixture
def wire() -> Wire:
    """OTLP request builders."""
    return Wire()
