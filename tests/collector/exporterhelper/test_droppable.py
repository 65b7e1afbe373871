"""Which requests a full non-blocking queue may drop: progress, never a run's story."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

from trainwire import semconv
from trainwire.collector.component import Signal
from trainwire.collector.exporterhelper.requests import is_droppable

STORY = [
    semconv.EVENT_RUN_START,
    semconv.EVENT_RUN_PARAMS,
    semconv.EVENT_RUN_TAGS,
    semconv.EVENT_RUN_RENAME,
    semconv.EVENT_RUN_METRIC_SPEC,
    semconv.EVENT_RUN_SUMMARY,
    semconv.EVENT_RUN_END,
    semconv.EVENT_ALERT,
    semconv.EVENT_ARTIFACT,
]
PROGRESS = [semconv.EVENT_RUN_HEARTBEAT, semconv.EVENT_CONSOLE, "app.something"]


def _logs(*records: LogRecord) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=list(records))])]
    )


def _top_level(name: str) -> LogRecord:
    return LogRecord(event_name=name)


def _attribute(name: str) -> LogRecord:
    """The older form: the name in the ``event.name`` attribute."""
    return LogRecord(
        attributes=[KeyValue(key=semconv.EVENT_NAME_ATTRIBUTE, value=AnyValue(string_value=name))]
    )


@pytest.mark.parametrize("name", STORY)
@pytest.mark.parametrize("form", [_top_level, _attribute], ids=["event_name", "attribute"])
def test_run_story_events_are_never_droppable(name: str, form: object) -> None:
    request = _logs(_top_level(semconv.EVENT_CONSOLE), form(name))  # type: ignore[operator]
    assert not is_droppable(Signal.LOGS, request)


@pytest.mark.parametrize("name", PROGRESS)
def test_progress_events_are_droppable(name: str) -> None:
    assert is_droppable(Signal.LOGS, _logs(_top_level(name), _attribute(name)))


def test_metric_points_are_droppable() -> None:
    assert is_droppable(Signal.METRICS, ExportMetricsServiceRequest())
