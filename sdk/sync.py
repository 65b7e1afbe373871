"""``trainwire sync``: ship what runs left in their spools (offline, crashed, timed out).

A run's directory holds ``meta.json`` (where its data was going) and ``spool/``.
Sync refuses a run whose process is still alive on this host. For a run whose
spool holds no ``ml.run.end``, it appends one with status ``crashed`` (the
process died without finishing), then ships every unacknowledged request in order.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.artifacts import has_pending_artifacts, sync_artifacts
from trainwire.errors import PermanentExportError, RetryableExportError, TrainwireError
from trainwire.records import EventRecord, encode_events
from trainwire.spool import SIGNAL_LOGS, SIGNAL_METRICS, Frame, Spool
from trainwire.transports.base import Transport

__all__ = ["SyncResult", "find_run_dirs", "sync_run"]


@dataclass(frozen=True)
class SyncResult:
    """What syncing one run did."""

    run_id: str
    shipped: int
    left: int
    marked_crashed: bool
    artifacts_delivered: int = 0
    artifacts_left: int = 0


def find_run_dirs(path: Path) -> list[Path]:
    """``path`` itself if it is a run directory, else the run directories inside it."""
    if (path / "meta.json").exists():
        return [path]
    return sorted(
        p
        for p in path.glob("*")
        if (p / "meta.json").exists() and ((p / "spool").exists() or has_pending_artifacts(p))
    )


def sync_run(
    run_dir: Path, *, to: str | None = None, force: bool = False, attempts: int = 5
) -> SyncResult:
    """Ship one run's spool to ``to`` (or where it was going); raise TrainwireError if it cannot."""
    meta = json.loads((run_dir / "meta.json").read_text())
    run_id = str(meta.get("run_id") or run_dir.name)
    if not force and not meta.get("finished") and _alive(meta):
        raise TrainwireError(
            f"run {run_id} is still running (pid {meta.get('pid')}); sync it after it ends,"
            " or pass --force"
        )
    spool = Spool(run_dir / "spool")
    frames = spool.pending(10**9)
    marked = False
    if frames and not any(_has_end(f) for f in frames):
        resource = _resource_of(frames)
        body = {"status": semconv.STATUS_CRASHED, "reason": "the process ended without finish()"}
        uid = f"sync-crash:{run_id}:{frames[-1].segment}:{frames[-1].end}"
        record = EventRecord(_last_time(frames) + 1, semconv.EVENT_RUN_END, body, uid)
        scope = InstrumentationScope(name=semconv.SCOPE_NAME)
        spool.append(SIGNAL_LOGS, encode_events(resource, scope, [record]).SerializeToString())
        spool.sync()
        frames = spool.pending(10**9)
        marked = True
    transport = _transport(to, meta)
    shipped = 0
    try:
        for frame in frames:
            _deliver(transport, frame, attempts)
            spool.ack(frame)
            shipped += 1
        artifacts = sync_artifacts(run_dir, transport, attempts=attempts)
    finally:
        transport.close()
        left = len(spool.pending(10**9))
        spool.close(delete_if_done=True)
    return SyncResult(run_id, shipped, left, marked, *artifacts)


def _alive(meta: dict[str, Any]) -> bool:
    if meta.get("host") != socket.gethostname() or not meta.get("pid"):
        return False
    try:
        os.kill(int(meta["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _logs(frame: Frame) -> ExportLogsServiceRequest | None:
    return (
        ExportLogsServiceRequest.FromString(frame.payload) if frame.signal == SIGNAL_LOGS else None
    )


def _has_end(frame: Frame) -> bool:
    logs = _logs(frame)
    if logs is None:
        return False
    return any(
        r.event_name == semconv.EVENT_RUN_END
        for rl in logs.resource_logs
        for sl in rl.scope_logs
        for r in sl.log_records
    )


def _resource_of(frames: list[Frame]) -> Resource:
    frame = frames[0]
    if frame.signal == SIGNAL_METRICS:
        request: Any = ExportMetricsServiceRequest.FromString(frame.payload)
        return Resource() if not request.resource_metrics else request.resource_metrics[0].resource
    logs = _logs(frame)
    return Resource() if logs is None or not logs.resource_logs else logs.resource_logs[0].resource


def _last_time(frames: list[Frame]) -> int:
    last = 0
    for frame in frames:
        if frame.signal == SIGNAL_METRICS:
            request = ExportMetricsServiceRequest.FromString(frame.payload)
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        for p in m.gauge.data_points:
                            last = max(last, p.time_unix_nano)
        else:
            logs = _logs(frame)
            for rl in logs.resource_logs if logs else ():
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        last = max(last, r.time_unix_nano)
    return last or time.time_ns()


def _transport(to: str | None, meta: dict[str, Any]) -> Transport:
    endpoint = to or meta.get("endpoint")
    if endpoint:
        from trainwire.transports.grpc import GrpcTransport

        return GrpcTransport(str(endpoint))
    if not meta.get("db_path"):
        raise TrainwireError("the run recorded no destination; pass --to HOST:PORT")
    from trainwire.transports.embedded import EmbeddedTransport

    return EmbeddedTransport(Path(meta["db_path"]))


def _deliver(transport: Transport, frame: Frame, attempts: int) -> None:
    delay = 0.2
    for attempt in range(attempts):
        try:
            transport.export_raw(frame.signal, frame.payload, timeout_s=10.0)
            return
        except PermanentExportError:
            return  # refused for good: retrying cannot help, and the rest must not wait
        except RetryableExportError as exc:
            if attempt == attempts - 1:
                raise TrainwireError(f"destination unavailable: {exc}") from None
            time.sleep(exc.retry_after_s or delay)
            delay = min(delay * 2, 5.0)
