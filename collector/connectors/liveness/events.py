"""What the liveness connector reads from run events, and the events it emits.

Emitted identities are deterministic (``log.record.uid`` derived from the run rank
and the time it was last seen, or from the stuck ``last_log_time``), so a collector
that restarts and decides the same thing again posts nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, SeverityNumber
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import from_any_value
from trainwire.collector.connectors.liveness.state import RankState
from trainwire.records import EventRecord, encode_events

__all__ = ["SCOPE", "crash_request", "end_status", "last_log_time", "stall_request"]

SCOPE = InstrumentationScope(name="trainwire.collector.liveness")
"""The instrumentation scope of what the connector emits."""


def crash_request(state: RankState, *, now_ns: int, timeout_s: float) -> ExportLogsServiceRequest:
    """The ``ml.run.end`` (status crashed) of a rank silent for ``timeout_s`` or longer."""
    silent_s = (now_ns - state.last_seen_ns) / 1e9
    reason = (
        f"no data from rank {state.rank} for {silent_s:.0f} s (heartbeat_timeout_s"
        f" {timeout_s:g}); last seen {_iso(state.last_seen_ns)}"
    )
    body = {"status": semconv.STATUS_CRASHED, "reason": reason}
    uid = f"liveness:{state.run_id}/{state.rank}:{state.last_seen_ns}"
    # The run ended when it was last heard from; the record is observed now.
    record = EventRecord(state.last_seen_ns, semconv.EVENT_RUN_END, body, uid)
    return _request(state, record, now_ns, SeverityNumber.SEVERITY_NUMBER_ERROR, "ERROR")


def stall_request(state: RankState, *, now_ns: int) -> ExportLogsServiceRequest:
    """The ``ml.alert`` of a rank whose heartbeats report no new ``log()`` call."""
    assert state.last_log_time is not None
    still_s = (now_ns - state.log_moved_ns) / 1e9
    text = (
        f"Rank {state.rank} is alive (heartbeats arrive) but has logged nothing since"
        f" {_iso(state.last_log_time)} ({still_s:.0f} s): a hung collective, data loader"
        " or deadlock?"
    )
    body = {"title": "run stalled", "text": text, "level": "warn"}
    uid = f"liveness:stalled:{state.run_id}/{state.rank}:{state.last_log_time}"
    record = EventRecord(now_ns, semconv.EVENT_ALERT, body, uid)
    return _request(state, record, now_ns, SeverityNumber.SEVERITY_NUMBER_WARN, "WARN")


def _request(
    state: RankState, record: EventRecord, now_ns: int, severity: int, severity_text: str
) -> ExportLogsServiceRequest:
    resource = Resource()
    resource.ParseFromString(state.resource)
    request = encode_events(resource, SCOPE, [record])
    log = request.resource_logs[0].scope_logs[0].log_records[0]
    log.observed_time_unix_nano = now_ns
    log.severity_number = severity  # type: ignore[assignment]
    log.severity_text = severity_text
    return request


def _iso(time_ns: int) -> str:
    moment = datetime.fromtimestamp(time_ns / 1e9, tz=timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _body(record: LogRecord) -> Any:
    return from_any_value(record.body) if record.HasField("body") else None


def end_status(record: LogRecord) -> str:
    """The ``status`` of an ``ml.run.end`` body ("" when absent)."""
    body = _body(record)
    return str(body.get("status") or "") if isinstance(body, dict) else ""


def last_log_time(record: LogRecord) -> int | None:
    """The ``last_log_time`` (ns) of an ``ml.run.heartbeat`` body, or None."""
    body = _body(record)
    value = body.get("last_log_time") if isinstance(body, dict) else None
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None
