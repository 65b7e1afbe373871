"""Spans in the run store: hex ids, once per (trace, span), attributed to their run."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from trainwire.anyvalue import to_attributes
from trainwire.collector.component import ComponentID, Signal
from trainwire.errors import PermanentExportError
from trainwire.exporters.sqlite import factory
from trainwire.exporters.sqlite.config import SqliteExporterConfig
from trainwire.exporters.sqlite.sqlite import SqliteExporter
from trainwire.exporters.sqlite.writer import StoreWriter

TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")


def _request(resource: Resource | None, *spans: Span) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    if resource is not None:
        rs.resource.CopyFrom(resource)
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "torch.profiler", "2.5"
    ss.spans.extend(spans)
    return request


def _span(span_id: int, name: str, start: int, parent: int = 0, **extra: Any) -> Span:
    span = Span(
        trace_id=TRACE,
        span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + 500,
        **extra,
    )
    return span


def _rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT trace_id, span_id, parent_span_id, run_id, scope_name, scope_version, name, kind,"
        " start_time, end_time, status_code, status_message FROM spans ORDER BY start_time"
    ).fetchall()


def test_spans_are_stored_with_hex_ids_and_their_run(
    writer: StoreWriter, conn: sqlite3.Connection, wire: Any
) -> None:
    """Each span becomes one row: hex ids, scope, kind, times, status and the resource's run."""
    t = wire.T0
    failed = Status(code=Status.STATUS_CODE_ERROR, message="nan loss")
    request = _request(
        wire.resource(), _span(1, "epoch", t), _span(2, "step", t + 10, parent=1, status=failed)
    )

    assert writer.write_traces(request) == 2

    trace = TRACE.hex()
    assert _rows(conn) == [
        (trace, "0000000000000001", "", "a1b2c3d4e5f6", "torch.profiler", "2.5", "epoch", 1)
        + (t, t + 500, 0, ""),
        (trace, "0000000000000002", "0000000000000001", "a1b2c3d4e5f6", "torch.profiler", "2.5")
        + ("step", 1, t + 10, t + 510, 2, "nan loss"),
    ]
    assert conn.execute("SELECT last_seen FROM runs").fetchone() == (t + 510,)


def test_resent_spans_are_stored_once(
    writer: StoreWriter, conn: sqlite3.Connection, wire: Any
) -> None:
    """Writing the same spans again adds no rows and reports nothing new."""
    request = _request(wire.resource(), _span(1, "epoch", wire.T0))

    writer.write_traces(request)

    assert writer.write_traces(request) == 0
    assert conn.execute("SELECT count(*) FROM spans").fetchone() == (1,)


def test_attributes_events_and_links_are_json(
    writer: StoreWriter, conn: sqlite3.Connection
) -> None:
    """Span attributes are a JSON object; events and links are JSON lists with hex link ids."""
    span = _span(1, "load", 100, attributes=to_attributes({"batch": 32, "split": "train"}))
    event = span.events.add(time_unix_nano=150, name="cache miss")
    event.attributes.extend(to_attributes({"key": "shard-3"}))
    span.links.add(trace_id=TRACE, span_id=(9).to_bytes(8, "big"))

    writer.write_traces(_request(None, span))

    attributes, events, links, run_id = conn.execute(
        "SELECT attributes, events, links, run_id FROM spans"
    ).fetchone()
    assert json.loads(attributes) == {"batch": 32, "split": "train"}
    assert json.loads(events) == [
        {"time": 150, "name": "cache miss", "attributes": {"key": "shard-3"}}
    ]
    assert json.loads(links) == [{"trace_id": TRACE.hex(), "span_id": "0000000000000009"}]
    assert run_id is None


def test_sqlite_factory_takes_traces() -> None:
    """The sqlite exporter declares traces among the signals it stores."""
    assert Signal.TRACES in factory.signals


def _exporter(tmp_path: Path) -> SqliteExporter:
    return SqliteExporter(
        SqliteExporterConfig(path=str(tmp_path / "s.db")), id=ComponentID("sqlite")
    )


def test_push_drops_only_the_resources_the_store_cannot_hold(tmp_path: Path, wire: Any) -> None:
    """A request with one unstorable resource (a time past SQLite's range) stores the others."""
    request = _request(wire.resource(), _span(1, "fine", wire.T0))
    request.resource_spans.extend(_request(None, _span(2, "too late", 2**64 - 501)).resource_spans)
    exporter = _exporter(tmp_path)

    async def push() -> None:
        await exporter.start(None)  # type: ignore[arg-type]
        try:
            await exporter.push(Signal.TRACES, request)
        finally:
            await exporter.shutdown()

    asyncio.run(push())

    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("SELECT name FROM spans").fetchall() == [("fine",)]
    assert exporter.spans_written == 1


@pytest.mark.parametrize("signal", [Signal.METRICS, Signal.TRACES])
def test_push_of_nothing_storable_is_permanent(tmp_path: Path, signal: Signal) -> None:
    """A request whose every resource the store cannot hold fails for good, not for retrying."""
    if signal is Signal.TRACES:
        request: Any = _request(None, _span(1, "too late", 2**64 - 501))
    else:
        request = ExportMetricsServiceRequest()
        metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="m")
        metric.gauge.data_points.add(time_unix_nano=2**64 - 1, as_double=1.0)
    exporter = _exporter(tmp_path)

    async def push() -> None:
        await exporter.start(None)  # type: ignore[arg-type]
        try:
            await exporter.push(signal, request)
        finally:
            await exporter.shutdown()

    with pytest.raises(PermanentExportError, match="cannot hold"):
        asyncio.run(push())
