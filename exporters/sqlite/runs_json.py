"""Rows of the run store as the query API's JSON: runs and per-metric summaries."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from trainwire import semconv
from trainwire.exporters.sqlite.rollups import SHIFTS
from trainwire.exporters.sqlite.series_read import last_point
from trainwire.exporters.sqlite.values import iso_time, json_number, jsonable

__all__ = ["STATUS_SQL", "metric_summaries", "run_dict"]

STATUS_SQL = (
    f"(CASE WHEN r.status = '{semconv.STATUS_RUNNING}'"
    " AND r.run_id IN (SELECT run_id FROM temp.dead_runs)"
    f" THEN '{semconv.STATUS_CRASHED}' ELSE r.status END)"
)
"""A run's status as readers show it: running runs whose owner process died are crashed."""


def run_dict(row: tuple[Any, ...], *, full: bool = False) -> dict[str, Any]:
    """A run from a ``query._RUN_SELECT`` row (``full``: with details and the stacktrace)."""
    (
        run_id,
        name,
        experiment,
        group,
        status,
        start,
        end,
        last_seen,
        host,
        world_size,
        exit_code,
        exc_type,
        exc_message,
        details_json,
    ) = row
    details = _details(details_json)
    until = end if end is not None else last_seen
    duration = max(0.0, (until - start) / 1e9) if start is not None and until is not None else None
    git = details.get("git")
    run: dict[str, Any] = {
        "id": run_id,
        "name": name,
        "experiment": experiment,
        "group": group,
        "status": status,
        "start_time": start,
        "end_time": end,
        "started_at": iso_time(start),
        "ended_at": iso_time(end),
        "duration_s": duration,
        "last_seen": last_seen,
        "host": host,
        "world_size": world_size,
        "git": jsonable(git) if isinstance(git, dict) else None,
        "exit_code": exit_code,
        "exception": {"type": exc_type, "message": exc_message} if exc_type else None,
    }
    if full:
        run["details"] = jsonable({k: v for k, v in details.items() if k != "git"})
    return run


def metric_summaries(conn: sqlite3.Connection, run_id: str) -> dict[str, dict[str, Any]]:
    """Last, min, max, best (by the metric's declared goal) and counts of each logged metric."""
    goals = dict(
        conn.execute("SELECT key, goal FROM metric_specs WHERE run_id = ?", (run_id,)).fetchall()
    )
    series = conn.execute(
        "SELECT s.id, s.name, s.attributes FROM series s JOIN resources r ON r.id = s.resource_id"
        " WHERE r.run_id = ? AND s.type IN ('gauge', 'sum') AND s.scope_name = ?"
        " ORDER BY s.name, s.attributes, r.rank",
        (run_id, semconv.SCOPE_NAME),
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for sid, name, attributes in series:
        key = name if attributes == "{}" else name + _label_text(attributes)
        count, nans, low, high = conn.execute(
            "SELECT coalesce(sum(count), 0), coalesce(sum(nan_count), 0), min(min_value),"
            " max(max_value) FROM point_rollups WHERE series_id = ? AND shift = ?",
            (sid, SHIFTS[-1]),
        ).fetchone()
        last = last_point(conn, sid)
        if last is None:
            continue
        if key in out and out[key]["time"] >= last[2]:
            continue  # another rank's series of the same metric is more recent
        goal = goals.get(name)
        best = low if goal == "min" else high if goal == "max" else None
        out[key] = {
            "last": json_number(float("nan") if last[0] is None else last[0]),
            "step": last[1],
            "time": last[2],
            "min": json_number(low),
            "max": json_number(high),
            "best": json_number(best),
            "goal": goal,
            "count": count,
            "nan_count": nans,
        }
    return dict(sorted(out.items()))


def _details(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _label_text(attributes_json: str) -> str:
    attributes = json.loads(attributes_json)
    return "{" + ",".join(f"{k}={v}" for k, v in sorted(attributes.items())) + "}"
