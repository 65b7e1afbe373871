"""The sqlite exporter component: lifecycle around the run store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from trainwire import semconv
from trainwire.collector.component import ComponentID
from trainwire.errors import RetryableExportError
from trainwire.exporters.sqlite import SqliteExporter, SqliteExporterConfig, StoreReader
from trainwire.testing import ComponentHost as RecordingHost


def _exporter(path: Path) -> SqliteExporter:
    return SqliteExporter(SqliteExporterConfig(path=str(path)), id=ComponentID("sqlite"))


def test_consume_before_start_is_retryable(tmp_path: Path, wire: Any) -> None:
    """consume_metrics and consume_logs before start raise RetryableExportError."""
    exporter = _exporter(tmp_path / "store.db")

    async def scenario() -> None:
        with pytest.raises(RetryableExportError, match="sqlite: not started"):
            await exporter.consume_metrics(wire.log(wire.resource(), (wire.T0, 1, {"loss": 1.0})))
        with pytest.raises(RetryableExportError, match="sqlite: not started"):
            await exporter.consume_logs(
                wire.events(wire.resource(), (wire.T0, semconv.EVENT_RUN_SUMMARY, {"a": 1}))
            )

    asyncio.run(scenario())
    assert not (tmp_path / "store.db").exists()


def test_shutdown_before_start_is_safe(tmp_path: Path) -> None:
    """shutdown before start, and twice, returns without error."""
    exporter = _exporter(tmp_path / "store.db")

    async def scenario() -> None:
        await exporter.shutdown()
        await exporter.shutdown()

    asyncio.run(scenario())


def test_exporter_lifecycle_stores_data(tmp_path: Path, wire: Any) -> None:
    """start, consume, shutdown twice: the data is stored and later writes are refused."""
    path = tmp_path / "nested" / "dir" / "store.db"
    exporter = _exporter(path)
    t = wire.T0
    resource = wire.resource()
    metrics = wire.log(resource, (t, 1, {"loss": 0.5}), (t + 1, 2, {"loss": 0.25}))
    logs = wire.events(
        resource,
        (t, semconv.EVENT_RUN_START, {"name": "exported", "config": {"lr": 0.1}}),
        (t + 2, semconv.EVENT_RUN_END, {"status": "completed", "exit_code": 0}),
    )

    async def scenario() -> None:
        await exporter.start(RecordingHost())
        await exporter.consume_metrics(metrics)
        await exporter.consume_logs(logs)
        await exporter.consume_logs(logs)
        await exporter.shutdown()
        await exporter.shutdown()
        with pytest.raises(RetryableExportError):
            await exporter.consume_metrics(metrics)

    asyncio.run(scenario())

    assert exporter.events_written == 2
    with StoreReader(path) as reader:
        run = reader.run("a1b2c3d4e5f6")
        assert (run.name, run.status, run.end_time) == ("exported", "completed", t + 2)
        assert reader.params("a1b2c3d4e5f6") == {"lr": 0.1}
        assert reader.points("a1b2c3d4e5f6", "loss") == [(1, t, 0.5), (2, t + 1, 0.25)]
