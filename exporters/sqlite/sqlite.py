"""The sqlite exporter: the run store, the system of record.

All SQLite work runs on one dedicated thread, so the event loop never blocks and
the store has exactly one writer; by default that thread hands the bytes to a writer
process (``writer_process.py``) that parses and writes them on another core. ``push``
returns once the request is committed.
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
from trainwire.collector.encoded import encoded
from trainwire.collector.exporterhelper.requests import count_items, request_type
from trainwire.errors import ConfigError, PermanentExportError, RetryableExportError
from trainwire.exporters.sqlite.config import SqliteExporterConfig
from trainwire.exporters.sqlite.lease import renew_leases
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.storing import Stored, store
from trainwire.exporters.sqlite.writer import StoreWriter
from trainwire.exporters.sqlite.writer_process import WriterProcess

__all__ = ["SqliteExporter"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

_WRITTEN = {
    Signal.METRICS: "points_written",
    Signal.LOGS: "events_written",
    Signal.TRACES: "spans_written",
}


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
        self._child: WriterProcess | None = None
        self._renewal: asyncio.Task[None] | None = None
        self._api: Any = None  # ApiServer when config.api is set

    async def start(self, host: Host) -> None:
        """Open (create or migrate) the store on the exporter's thread."""
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"trainwire-{self.id}"
        )
        try:
            await self._run(self._open)
        except sqlite3.DatabaseError as exc:  # not SQLite, or a newer trainwire's store
            raise ConfigError(
                f"exporters::{self.id}::path: cannot open the run store"
                f" {Path(self.config.path).expanduser()}: {exc}; point path at a trainwire"
                " store or at a new file"
            ) from exc
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
        if self.config.writer_process:
            child = WriterProcess(
                path, name=str(self.id), sealing_cpu_share=self.config.sealing_cpu_share
            )
            child.start()  # creates or migrates the store, or says why it cannot
            self._child = child
            logger.info("%s: storing runs in %s (writer process)", self.id, path.resolve())
            return
        self._conn = connect(path)
        self._writer = StoreWriter(
            self._conn,
            lease_s=self.config.lease_s,
            sealing_cpu_share=self.config.sealing_cpu_share,
        )
        logger.info("%s: storing runs in %s", self.id, path.resolve())

    async def _renew_leases(self, lease_s: float) -> None:
        """Keep the leases of this process's runs from expiring while it lives."""
        while True:
            await asyncio.sleep(lease_s / 3)
            conn = self._conn
            if conn is None or self._executor is None:
                return
            try:
                await self._run(lambda c=conn: renew_leases(c, lease_s))
            except (sqlite3.Error, RetryableExportError) as exc:
                logger.warning("%s: could not renew run leases: %s", self.id, exc)
            except RuntimeError:  # the writer thread shut down meanwhile: we are stopping
                return

    async def push(self, signal: Signal, request: Any) -> None:
        """Commit ``request`` (metrics, logs or traces) in one transaction.

        Resources the store cannot hold (a time past SQLite's integer range, say) are left
        out and logged, since retrying cannot help (``storing.store``).
        """
        if signal not in _WRITTEN:
            raise PermanentExportError(f"{self.id}: cannot store {signal.value}")
        if self._child is not None:
            await self.push_encoded(signal, encoded(request))
            return
        stored: Stored = await self._write(lambda w: store(w, signal.value, request))
        self._count(signal, stored.written, stored.dropped)

    async def push_encoded(self, signal: Signal, payload: bytes) -> int:
        """Commit one or more serialized ``signal`` requests; return the items they held.

        The queue's fast path: with the writer process, the bytes go to it unparsed.
        """
        if signal not in _WRITTEN:
            raise PermanentExportError(f"{self.id}: cannot store {signal.value}")
        child = self._child
        if child is None:
            request = request_type(signal).FromString(payload)
            await self.push(signal, request)
            return count_items(signal, request)
        written, items, dropped = await self._run(lambda: child.write(signal.value, payload))
        self._count(signal, written, dropped)
        return int(items)

    def _count(self, signal: Signal, written: int, dropped: str | None) -> None:
        if dropped is not None:
            logger.error("%s: %s", self.id, dropped)
        counter = _WRITTEN[signal]
        setattr(self, counter, getattr(self, counter) + written)

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Commit every point of ``request`` (write-through, without a queue)."""
        await self.push(Signal.METRICS, request)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Commit every log record of ``request``, applying run events."""
        await self.push(Signal.LOGS, request)

    async def consume_traces(self, request: ExportTraceServiceRequest) -> None:
        """Commit every span of ``request`` (write-through, without a queue)."""
        await self.push(Signal.TRACES, request)

    async def _write(self, action: Any) -> Any:
        writer = self._writer
        if writer is None:
            raise RetryableExportError(f"{self.id}: not started")
        try:
            result = await self._run(lambda: action(writer))
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
        child, self._child = self._child, None
        if child is not None:
            await asyncio.get_running_loop().run_in_executor(executor, child.close)
        conn, self._conn, self._writer = self._conn, None, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(executor, conn.close)
        executor.shutdown(wait=True)

    async def _run(self, fn: Any) -> Any:
        if self._executor is None:
            raise RetryableExportError(f"{self.id}: not started")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
