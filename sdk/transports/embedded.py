"""The embedded default: the collector pipeline, in-process, writing ``./trainwire.db``.

It builds the same graph the collector would from a config with no receivers
(the SDK is the receiver) and runs it on an event loop in a daemon thread, so
the SDK's sender hands requests to it exactly as it would send them to a
collector. The collector code is imported only when this transport is used.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire import settings
from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.spool import SIGNAL_LOGS, SIGNAL_METRICS

if TYPE_CHECKING:
    from trainwire.artifacts import PendingArtifact

__all__ = ["EmbeddedTransport", "artifact_directory", "embedded_config", "store_blob"]

_ARTIFACT_CHUNK_BYTES = 1024 * 1024
EMBEDDED_SEALING_CPU_SHARE = 0.02
"""Of one core, for packing older points (the sqlite exporter's ``sealing_cpu_share``):
the store shares the training process, so a burst of logging must not wait on it."""


def artifact_directory(db_path: str | Path) -> Path:
    """The embedded default's artifact store: ``trainwire-artifacts/`` beside the database."""
    return Path(db_path).resolve().parent / "trainwire-artifacts"


def store_blob(
    directory: Path,
    path: Path,
    *,
    sha256: str,
    size: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Commit the bytes of ``path`` as blob ``sha256`` of the store in ``directory``.

    The collector's :class:`~trainwire.collector.artifacts.BlobStore`, so blobs are
    verified, committed atomically and resumed like uploads. Returns the bytes copied
    (0 when the store already held the blob).

    Raises:
        RetryableExportError: another process is storing the blob, or ``should_stop``.
        PermanentExportError: the bytes do not hash to ``sha256``.
    """
    from trainwire.collector.artifacts import BlobError, BlobStore, OffsetMismatchError
    from trainwire.collector.artifacts import UploadInProgressError as InProgress

    store = BlobStore(directory, max_blob_bytes=2**63 - 1)
    store.open()
    stat = store.stat(sha256)
    if stat.exists:
        return 0
    try:
        try:
            return _copy_blob(store, path, sha256, size, stat.committed_bytes, should_stop)
        except OffsetMismatchError as exc:  # an interrupted copy recorded another size
            return _copy_blob(store, path, sha256, size, exc.committed_bytes, should_stop)
    except InProgress as exc:
        raise RetryableExportError(str(exc)) from None
    except BlobError as exc:
        raise PermanentExportError(f"artifact store {directory}: {exc}") from None


def _copy_blob(
    store: Any, path: Path, sha256: str, size: int, offset: int, should_stop: Callable[[], bool]
) -> int:
    from trainwire.collector.artifacts import BlobUpload

    copied = 0
    with BlobUpload(store, sha256, total_size=size, offset=offset) as upload, open(path, "rb") as f:
        f.seek(upload.position)
        while not should_stop() and (data := f.read(_ARTIFACT_CHUNK_BYTES)):
            upload.write(data)
            copied += len(data)
        if not upload.finish():
            raise RetryableExportError(f"copy of blob {sha256} stopped at byte {upload.position}")
    return copied


def embedded_config(db_path: str | Path) -> dict[str, Any]:
    """The default in-process pipeline: both signals into the sqlite store at ``db_path``."""
    pipeline = {"exporters": ["sqlite"]}
    # No queue: the SDK's sender already holds the data until the store has committed it.
    sqlite: dict[str, Any] = {
        "path": str(db_path),
        "sending_queue": {"enabled": False},
        "writer_process": False,  # no child processes inside a training script
        "sealing_cpu_share": EMBEDDED_SEALING_CPU_SHARE,
    }
    # The store lives in this process: it leases its runs so readers see a kill as a crash.
    sqlite["lease_s"] = 3 * settings.HEARTBEAT_INTERVAL.get()
    return {
        "exporters": {"sqlite": sqlite},
        "service": {"pipelines": {"metrics": pipeline, "logs": dict(pipeline)}},
    }


class EmbeddedTransport:
    """Runs a collector graph in this process and feeds it directly."""

    def __init__(self, db_path: str | Path) -> None:
        from trainwire.collector.component import Signal
        from trainwire.collector.components import default_factories
        from trainwire.collector.config import parse_config
        from trainwire.collector.pipeline import Graph, GraphHost

        config = parse_config(
            embedded_config(db_path), default_factories(), require_receivers=False
        )
        self.db_path = Path(db_path)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="trainwire-embedded", daemon=True
        )
        self._thread.start()
        self._graph = Graph(config, with_receivers=False)
        self._metrics = self._graph.entry(Signal.METRICS)
        self._logs = self._graph.entry(Signal.LOGS)
        self._closed = False
        try:
            self._wait(self._graph.start(GraphHost(self._graph)), 30.0)
        except BaseException:
            self.close()
            raise

    def export_metrics(self, request: ExportMetricsServiceRequest, *, timeout_s: float) -> None:
        """Store one metrics request."""
        self._wait(self._metrics.consume_metrics(request), timeout_s)

    def export_logs(self, request: ExportLogsServiceRequest, *, timeout_s: float) -> None:
        """Store one logs request."""
        self._wait(self._logs.consume_logs(request), timeout_s)

    def export_raw(self, signal: int, payload: bytes, *, timeout_s: float) -> None:
        """Store one encoded request."""
        if signal == SIGNAL_METRICS:
            self.export_metrics(
                ExportMetricsServiceRequest.FromString(payload), timeout_s=timeout_s
            )
        elif signal == SIGNAL_LOGS:
            self.export_logs(ExportLogsServiceRequest.FromString(payload), timeout_s=timeout_s)
        else:
            raise PermanentExportError(f"unknown signal {signal} in the spool")

    def announce_artifact(self, pending: PendingArtifact, sha256: str) -> bool:
        """Store the ``ml.artifact`` event of a committed blob, as a collector would emit it."""
        from trainwire.collector.artifacts import ArtifactInfo, artifact_event

        info = ArtifactInfo.create(
            run_id=pending.run_id,
            name=pending.name,
            kind=pending.kind,
            mime_type=pending.mime_type,
        )
        request = artifact_event(
            info, sha256=sha256, size=pending.size, time_unix_nano=pending.time_unix_nano
        )
        self.export_logs(request, timeout_s=30.0)
        return True

    def _wait(self, coroutine: Any, timeout_s: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout_s)
        except FutureTimeout:
            future.cancel()
            raise RetryableExportError(f"embedded store {self.db_path} timed out") from None

    def close(self) -> None:
        """Shut the pipeline down (closing the store) and stop its thread; safe twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._wait(self._graph.shutdown(), 30.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5.0)
            if not self._thread.is_alive():
                self._loop.close()
