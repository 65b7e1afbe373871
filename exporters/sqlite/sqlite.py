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
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.exporters.sqlite.config import SqliteExporterConfig
from trainwire.exporters.sqlite.lease import renew_leases
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter

__all__ = ["SqliteExporter"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

_WRITTEN = {
    Signal.METRICS: "points_written",
    Signal.LOGS: "events_written",
    Signal.TRACES: "spans_written",
}
# Failures that depend on the data, not on the moment: retrying the same request cannot help.
_DATA_ERRORS = (
    OverflowError,
    ValueError,
    TypeError,
    RecursionError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.ProgrammingError,  # e.g. a map bound where a scalar goes
    sqlite3.InterfaceError,
)


class SqliteExporter:
    """Stores metrics, logs and traces in a SQLite run store."""

    def __init__(self, config: SqliteExporterConfig, *, id: ComponentID) -> None:
        self.config = config
        self.id = id
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._writer: StoreWriter | None = None
        self.points_written = 0
        self.events_written = 0
        self.spans_written = 0
        self._renewal: asyncio.Task[None] | None = None
        self._api: Any = None  # ApiServer when config.api is set

    async def start(self, host: Host) -> None:
        """Open (create or migrate) the store on the exporter's thread."""
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"trainwire-{self.id}"
        )
        await self._run(self._open)
        if self.config.lease_s > 0:
            self._renewal = asyncio.create_task(self._renew_leases(self.config.lease_s))
        if self.config.api is not None:
            from trainwire.exporters.sqlite.api.server import ApiServer

            self._api = ApiServer(
                Path(self.config.path).expanduser(),
                endpoint=self.config.api.endpoint,
                read_token=self.config.api.read_token or None,
                artifacts_dir=Path(
                    self.config.api.artifacts_directory
                    or Path(self.config.path).expanduser().parent / "artifacts"
                ).expanduser(),
                name=str(self.id),
            )
            await self._api.start()

    def _open(self) -> None:
        path = Path(self.config.path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(path)
        self._writer = StoreWriter(self._conn, lease_s=self.config.lease_s)
        logger.info("%s: storing runs in %s", self.id, path.resolve())

    async def _renew_leases(self, lease_s: float) -> None:
        """Keep the leases of this process's runs from expiring while it lives."""
        while True:
            await asyncio.sleep(lease_s / 3)
            conn = self._conn
            if conn is None:
                return
            try:
                await self._run(lambda c=conn: renew_leases(c, lease_s))
            except (sqlite3.Error, RetryableExportError) as exc:
                logger.warning("%s: could not renew run leases: %s", self.id, exc)

    async def push(self, signal: Signal, request: Any) -> None:
        """Commit ``request`` (metrics, logs or traces) in one transaction.

        Data the store cannot hold (a time past SQLite's integer range, say) would fail
        the same way on every retry and block the queue behind it for good; so such a
        request is written again one resource at a time, and only the resources that
        still fail are dropped (logged, and a PermanentExportError if nothing was stored).
        """
        if signal not in _WRITTEN:
            raise PermanentExportError(f"{self.id}: cannot store {signal.value}")
        write = getattr(StoreWriter, f"write_{signal.value}")
        try:
            written = await self._write(lambda w: write(w, request))
        except _DATA_ERRORS:
            written = await self._write_apart(signal, request, write)
        counter = _WRITTEN[signal]
        setattr(self, counter, getattr(self, counter) + written)

    async def _write_apart(self, signal: Signal, request: Any, write: Any) -> int:
        """Write each resource of ``request`` on its own; drop those the store cannot hold."""
        field = request.DESCRIPTOR.fields_by_number[1].name  # resource_metrics, ...
        entries = getattr(request, field)
        written, failures = 0, []
        for entry in entries:
            single = type(request)()
            getattr(single, field).append(entry)
            try:
                written += await self._write(lambda w, single=single: write(w, single))
            except _DATA_ERRORS as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
        if failures:
            message = (
                f"{self.id}: dropped {len(failures)} of {len(entries)} resources of a"
                f" {signal.value} request that the store cannot hold ({failures[0]})"
            )
            if len(failures) == len(entries):
                raise PermanentExportError(message)
            logger.error("%s", message)
        return written

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Commit every point of ``request`` (write-through, without a queue)."""
        await self.push(Signal.METRICS, request)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Commit every log record of ``request``, applying run events."""
        await self.push(Signal.LOGS, request)

    async def consume_traces(self, request: ExportTraceServiceRequest) -> None:
        """Commit every span of ``request`` (write-through, without a queue)."""
        await self.push(Signal.TRACES, request)

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
        renewal, self._renewal = self._renewal, None
        if renewal is not None:
            renewal.cancel()
        api, self._api = self._api, None
        if api is not None:
            await api.stop()
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
