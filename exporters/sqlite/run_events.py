"""Turn stored ``ml.*`` events into run state: name, params, tags, summary, status.

Each event is applied once, when it is first stored (its ``log.record.uid`` makes a
re-sent one a no-op). Keyed state keeps the value with the latest record time, so
events applied out of order still end as the sender ordered them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from trainwire import semconv
from trainwire.anyvalue import attributes_to_dict, from_any_value
from trainwire.exporters.sqlite.chunks import unseal
from trainwire.exporters.sqlite.identity import canonical_json, column_text, digest
from trainwire.exporters.sqlite.rollups import rebuild_series

__all__ = ["apply_event", "event_name", "event_row", "flatten"]

EventRow = tuple[str, int, str | None, str | None, int, int, str, str | None, str]

_STATUS_RANK = {  # which rank status decides a multi-rank run's final status
    semconv.STATUS_FAILED: 4,
    semconv.STATUS_CRASHED: 3,
    semconv.STATUS_KILLED: 2,
    semconv.STATUS_COMPLETED: 1,
}


def event_name(record: LogRecord, attributes: Mapping[str, Any]) -> str | None:
    """Return the event name from ``event_name`` or, for older senders, ``event.name``."""
    name = record.event_name or attributes.get(semconv.EVENT_NAME_ATTRIBUTE)
    return str(name) if name else None


def event_row(resource_id: int, run_id: str | None, scope: str, record: LogRecord) -> EventRow:
    """Return the ``events`` row of ``record``; its uid is the sender's or a content digest."""
    attributes = attributes_to_dict(record.attributes)
    body = from_any_value(record.body) if record.HasField("body") else None
    body_json = canonical_json(body) if body is not None else None
    attributes_json = canonical_json(attributes)
    time = record.time_unix_nano or record.observed_time_unix_nano
    uid = attributes.get(semconv.LOG_RECORD_UID)
    if not uid:
        uid = "content:" + digest(
            str(resource_id),
            scope,
            str(time),
            body_json or "",
            attributes_json,
            str(record.severity_number),
        )
    return (
        str(uid),
        resource_id,
        run_id,
        event_name(record, attributes),
        time,
        record.severity_number,
        record.severity_text,
        body_json,
        attributes_json,
    )


def apply_event(
    conn: sqlite3.Connection, run_id: str, rank: int, record: LogRecord, row: EventRow
) -> None:
    """Apply a newly stored event to its run's state."""
    name, time = row[3], row[4]
    handler = _HANDLERS.get(name or "")
    if handler is None:
        return
    body = from_any_value(record.body) if record.HasField("body") else None
    attributes = attributes_to_dict(record.attributes)
    handler(conn, run_id, rank, time, body if body is not None else {}, attributes)


def flatten(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted.key, leaf)`` pairs of a nested mapping."""
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            yield from flatten(item, path + ".")
        else:
            yield path, item


def _upsert(conn: sqlite3.Connection, table: str, run_id: str, time: int, items: Any) -> None:
    conn.executemany(
        f"INSERT INTO {table}(run_id, key, value, time) VALUES (?,?,?,?)"
        f" ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value, time = excluded.time"
        f" WHERE excluded.time >= {table}.time",
        [(run_id, key, canonical_json(value), time) for key, value in items],
    )


def _labels(conn: sqlite3.Connection, run_id: str, time: int, labels: Any, present: bool) -> None:
    if isinstance(labels, str):
        labels = [labels]
    if not isinstance(labels, list):
        return
    conn.executemany(
        "INSERT INTO labels(run_id, label, present, time) VALUES (?,?,?,?)"
        " ON CONFLICT(run_id, label) DO UPDATE SET present = excluded.present, time = excluded.time"
        " WHERE excluded.time >= labels.time",
        [(run_id, str(label), int(present), time) for label in labels],
    )


def _rename(conn: sqlite3.Connection, run_id: str, time: int, name: Any) -> None:
    if name:
        conn.execute(
            "UPDATE runs SET name = ?, name_time = ? WHERE run_id = ? AND name_time <= ?",
            (str(name), time, run_id, time),
        )


def _on_start(
    conn: sqlite3.Connection,
    run_id: str,
    rank: int,
    time: int,
    body: Any,
    attributes: dict[str, Any],
) -> None:
    if not isinstance(body, Mapping):
        return
    _rename(conn, run_id, time, body.get("name"))
    if isinstance(body.get("config"), Mapping):
        _upsert(conn, "params", run_id, time, flatten(body["config"]))
    _labels(conn, run_id, time, body.get("tags") or [], True)
    if body.get("resumed"):
        _resume(conn, run_id, rank, time, body.get("resume_from"))
    details = {k: v for k, v in body.items() if k not in ("name", "config", "tags")}
    conn.execute(
        "UPDATE runs SET details = json_patch(details, ?), group_name = coalesce(?, group_name),"
        " start_time = min(coalesce(start_time, ?), ?) WHERE run_id = ?",
        (canonical_json(details), body.get("group"), time, time, run_id),
    )


def _resume(conn: sqlite3.Connection, run_id: str, rank: int, time: int, resume_from: Any) -> None:
    """A resumed run is running again; a rewind sets aside what earlier attempts logged after it."""
    conn.execute("UPDATE runs SET status = 'running', end_time = NULL WHERE run_id = ?", (run_id,))
    conn.execute(
        "UPDATE run_ranks SET status = 'running', end_time = NULL WHERE run_id = ? AND rank = ?",
        (run_id, rank),
    )
    if not isinstance(resume_from, int) or isinstance(resume_from, bool):
        return
    # Only this rank's own streams: each rank rewinds what it logged, not what others
    # already logged in the new attempt.
    rank_series = (
        " AND series_id IN (SELECT s.id FROM series s JOIN resources r"
        " ON r.id = s.resource_id WHERE r.run_id = ? AND coalesce(r.rank, 0) = ?)"
    )
    where = " WHERE step > ? AND time < ?" + rank_series
    args = (resume_from, time, run_id, rank)
    # Sealed chunks holding such points go back to loose points first (chunks.py).
    sealed = " AND max_step > ? AND first_time < ?"
    for (sid,) in conn.execute(
        "SELECT DISTINCT series_id FROM point_chunks WHERE 1" + sealed + rank_series, args
    ).fetchall():
        unseal(conn, sid, sealed, (resume_from, time))
    conn.execute(
        "INSERT OR IGNORE INTO superseded_points SELECT series_id, time, step, value FROM points"
        + where,
        args,
    )
    moved = [sid for (sid,) in conn.execute("SELECT DISTINCT series_id FROM points" + where, args)]
    conn.execute("DELETE FROM points" + where, args)
    rebuild_series(conn, moved)


def _on_params(
    conn: sqlite3.Connection,
    run_id: str,
    rank: int,
    time: int,
    body: Any,
    attributes: dict[str, Any],
) -> None:
    if isinstance(body, Mapping):
        _upsert(conn, "params", run_id, time, flatten(body))


def _on_summary(
    conn: sqlite3.Connection,
    run_id: str,
    rank: int,
    time: int,
    body: Any,
    attributes: dict[str, Any],
) -> None:
    if isinstance(body, Mapping):
        _upsert(conn, "summaries", run_id, time, flatten(body))


def _on_tags(
    conn: sqlite3.Connection,
    run_id: str,
    rank: int,
    time: int,
    body: Any,
    attributes: dict[str, Any],
) -> None:
    if not isinstance(body, Mapping):
        return
    if isinstance(body.get("set"), Mapping):
        _upsert(conn, "tags", run_id, time, body["set"].items())
    _labels(conn, run_id, time, body.get("add") or [], True)
    _labels(conn, run_id, time, body.get("remove") or [], False)


def _on_rename(
    conn: sqlite3.Connection,
    run_id: str,
    rank: int,
    time: int,
    body: Any,
    attributes: dict[str, Any],
) -> None:
    if isinstance(body, Mapping):
        _rename(conn, run_id, time, body.get("name"))


def _on_metric_spec(
    conn: sqlite3.Connection,
    run_id: str,
    rank: int,
    time: int,
    body: Any,
    attributes: dict[str, Any],
) -> None:
    if isinstance(body, Mapping) and body.get("key"):
        conn.execute(
            "INSERT INTO metric_specs VALUES (?,?,?,?,?) ON CONFLICT(run_id, key) DO UPDATE SET"
            " goal = excluded.goal, step_metric = excluded.step_metric, time = excluded.time"
            " WHERE excluded.time >= metric_specs.time",
            (
                run_id,
                str(body["key"]),
                column_text(body.get("goal")),
                column_text(body.get("step_metric")),
                time,
            ),
        )


def _on_artifact(
    conn: sqlite3.Connection,
    run_id: str,
    rank: int,
    time: int,
    body: Any,
    attributes: dict[str, Any],
) -> None:
    if isinstance(body, Mapping) and body.get("name") and body.get("sha256"):
        conn.execute(
            "INSERT OR IGNORE INTO artifacts VALUES (?,?,?,?,?,?,?)",
            (
                run_id,
                str(body["name"]),
                str(body.get("kind") or "file"),
                str(body["sha256"]),
                _size(body.get("size")),
                str(body.get("mime_type") or "application/octet-stream"),
                time,
            ),
        )


def _on_end(
    conn: sqlite3.Connection,
    run_id: str,
    rank: int,
    time: int,
    body: Any,
    attributes: dict[str, Any],
) -> None:
    body = body if isinstance(body, Mapping) else {}
    status = str(body.get("status") or semconv.STATUS_COMPLETED)
    if status not in semconv.TERMINAL_STATUSES:
        status = semconv.STATUS_FAILED
    exit_code = body.get("exit_code")
    # A crash is the collector's guess (liveness); an end the run sent itself wins over it.
    conn.execute(
        "INSERT INTO run_ranks(run_id, rank, status, end_time, exit_code) VALUES (?,?,?,?,?)"
        " ON CONFLICT(run_id, rank) DO UPDATE SET status = excluded.status,"
        " end_time = excluded.end_time, exit_code = excluded.exit_code"
        " WHERE excluded.status != ? OR run_ranks.status IN (?, ?)",
        (run_id, rank, status, time, exit_code, *_CRASH_GUARD),
    )
    if status == semconv.STATUS_FAILED or attributes.get(semconv.EXCEPTION_TYPE):
        conn.execute(
            "UPDATE runs SET exception_type = coalesce(exception_type, ?),"
            " exception_message = coalesce(exception_message, ?),"
            " exception_stacktrace = coalesce(exception_stacktrace, ?) WHERE run_id = ?",
            (
                attributes.get(semconv.EXCEPTION_TYPE),
                attributes.get(semconv.EXCEPTION_MESSAGE),
                attributes.get(semconv.EXCEPTION_STACKTRACE),
                run_id,
            ),
        )
    _settle(conn, run_id)


_CRASH_GUARD = (semconv.STATUS_CRASHED, semconv.STATUS_RUNNING, semconv.STATUS_CRASHED)
"""A crashed end replaces only a running (or crashed) rank's status."""


def _size(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError, OverflowError):
        return 0


def _settle(conn: sqlite3.Connection, run_id: str) -> None:
    """End the run once every rank has ended: failed if any failed."""
    (world_size,) = conn.execute(
        "SELECT world_size FROM runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    ranks = conn.execute(
        "SELECT status, end_time, exit_code FROM run_ranks WHERE run_id = ?", (run_id,)
    ).fetchall()
    ended = [r for r in ranks if r[0] != semconv.STATUS_RUNNING]
    if len(ended) < world_size or len(ended) < len(ranks):
        return
    worst = max(ended, key=lambda r: _STATUS_RANK.get(r[0], 0))
    conn.execute(
        "UPDATE runs SET status = ?, end_time = ?, exit_code = ? WHERE run_id = ?",
        (worst[0], max(r[1] or 0 for r in ended), worst[2], run_id),
    )


_Handler = Callable[[sqlite3.Connection, str, int, int, Any, dict[str, Any]], None]
_HANDLERS: dict[str, _Handler] = {
    semconv.EVENT_RUN_START: _on_start,
    semconv.EVENT_RUN_PARAMS: _on_params,
    semconv.EVENT_RUN_SUMMARY: _on_summary,
    semconv.EVENT_RUN_TAGS: _on_tags,
    semconv.EVENT_RUN_RENAME: _on_rename,
    semconv.EVENT_RUN_METRIC_SPEC: _on_metric_spec,
    semconv.EVENT_ARTIFACT: _on_artifact,
    semconv.EVENT_RUN_END: _on_end,
}
