"""The sqlite exporter: the run store, the system of record.

All SQLite work runs on one dedicated thread, so the event loop never blocks and
the store has exactly one writer. ``push`` returns once the request is committed.
The factory puts it behind a persistent queue (exporterhelper) that refuses new
data when full rather than drop any.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.exporters.sqlite.config import SqliteExporterConfig
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter

__all__ = ["SqliteExporter"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class SqliteExporter:
    """Stores metrics and logs in a SQLite run store."""

    def __init__(self, config: SqliteExporterConfig, *, id: ComponentID) -> None:
        self.config = config
        self.id = id
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._writer: StoreWriter | None = None
        self.points_written = 0
        self.events_written = 0

    async def start(self, host: Host) -> None:
        """Open (create or migrate) the store on the exporter's thread."""
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"trainwire-{self.id}"
        )
        await self._run(self._open)

    def _open(self) -> None:
        path = Path(self.config.path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(path)
        self._writer = StoreWriter(self._conn)
        logger.info("%s: storing runs in %s", self.id, path.resolve())

    async def push(self, signal: Signal, request: Any) -> None:
        """Commit ``request`` (metrics or logs) in one transaction."""
        if signal is Signal.METRICS:
            self.points_written += await self._write(lambda w: w.write_metrics(request))
        elif signal is Signal.LOGS:
            self.events_written += await self._write(lambda w: w.write_logs(request))
        else:
            raise PermanentExportError(f"{self.id}: cannot store {signal.value}")

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Commit every point of ``request`` (write-through, without a queue)."""
        await self.push(Signal.METRICS, request)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Commit every log record of ``request``, applying run events."""
        await self.push(Signal.LOGS, request)

    async def _write(self, action: Any) -> int:
        writer = self._writer
        if writer is None:
            raise RetryableExportError(f"{self.id}: not started")
        try:
            result: int = await self._run(lambda: action(writer))
        except sqlite3.OperationalError as exc:  # locked, disk full, I/O error: try again later
            raise RetryableExportError(f"{self.id}: {exc}", retry_after_s=1.0) from exc
        return result

    async def shutdown(self) -> None:
        """Close the store once the writes in flight are done; safe before start and twice."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        conn, self._conn, self._writer = self._conn, None, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(executor, conn.close)
        executor.shutdown(wait=True)

    async def _run(self, fn: Any) -> Any:
        if self._executor is None:
            raise RetryableExportError(f"{self.id}: not started")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
