"""A run's events page by page, and what landed since a cursor (for live updates)."""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from trainwire.errors import InvalidQueryError
from trainwire.exporters.sqlite.series_read import read_points, snapshot
from trainwire.exporters.sqlite.values import json_number, jsonable, loads

__all__ = ["MAX_EVENTS", "events", "updates"]

MAX_EVENTS = 10_000


def events(
    conn: sqlite3.Connection, run_id: str, *, name: str | None, after: int | None, limit: int | None
) -> dict[str, Any]:
    """The body of ``GET /api/runs/{id}/events`` (see :meth:`.query.RunQuery.events`)."""
    limit = MAX_EVENTS if limit is None else limit
    if not 1 <= limit <= MAX_EVENTS:
        raise InvalidQueryError(f"limit must be between 1 and {MAX_EVENTS}, got {limit}")
    sql = (
        "SELECT uid, name, time, severity_number, severity_text, body, attributes"
        " FROM events WHERE run_id = ?"
    )
    args: list[Any] = [run_id]
    if name is not None:
        sql += " AND name = ?"
        args.append(name)
    if after is not None:
        sql += " AND time > ?"
        args.append(after)
    rows = conn.execute(sql + " ORDER BY time, uid LIMIT ?", (*args, limit + 1)).fetchall()
    more = len(rows) > limit
    if more:
        # Pages end between times, so `after` never skips events sharing one.
        cut = rows[limit][2]
        rows = [r for r in rows[:limit] if r[2] < cut]
        if not rows:  # one time holds more than a page: return all of it
            rows = conn.execute(sql + " AND time = ? ORDER BY uid", (*args, cut)).fetchall()
    return {
        "run_id": run_id,
        "events": [_event(row) for row in rows],
        "next_after": rows[-1][2] if more and rows else None,
    }


def updates(conn: sqlite3.Connection, run_id: str, *, after: int, limit: int) -> dict[str, Any]:
    """Points and events of the run later than ``after`` (see :meth:`.query.RunQuery.updates`)."""
    points = _points_after(conn, run_id, after, limit)
    landed = events(conn, run_id, name=None, after=after, limit=min(limit, MAX_EVENTS))["events"]
    cursor = max([after, *(p[3] for p in points), *(e["time"] for e in landed)])
    # A full page may stop mid-time: keep only what is complete up to the cursor.
    if len(points) == limit:
        cursor = min(cursor, points[-1][3] - 1)
    if len(landed) == limit:
        cursor = min(cursor, landed[-1]["time"] - 1)
    if cursor <= after and (points or landed):  # one time holds a whole page: move on
        cursor = max([*(p[3] for p in points), *(e["time"] for e in landed)])
    return {
        "run_id": run_id,
        "points": [
            {
                "key": p[0],
                "attributes": json.loads(p[1]),
                "step": p[2],
                "time": p[3],
                "value": json_number(math.nan if p[4] is None else p[4]),
            }
            for p in points
            if p[3] <= cursor
        ],
        "events": [e for e in landed if e["time"] <= cursor],
        "cursor": cursor,
    }


def _points_after(
    conn: sqlite3.Connection, run_id: str, after: int, limit: int
) -> list[tuple[Any, ...]]:
    """``(name, attributes, step, time, value)`` of the first ``limit`` points after ``after``."""
    with snapshot(conn):
        return _first_after(conn, run_id, after, limit)


def _first_after(
    conn: sqlite3.Connection, run_id: str, after: int, limit: int
) -> list[tuple[Any, ...]]:
    behind = conn.execute(
        "SELECT DISTINCT s.id, s.name, s.attributes FROM resources rs"
        " JOIN series s ON s.resource_id = rs.id JOIN point_chunks c ON c.series_id = s.id"
        " WHERE rs.run_id = ? AND c.last_time > ?",
        (run_id, after),
    ).fetchall()
    if not behind:  # the usual case: the newest points of a series are never sealed
        return conn.execute(
            "SELECT s.name, s.attributes, p.step, p.time, p.value FROM resources rs"
            " JOIN series s ON s.resource_id = rs.id JOIN points p ON p.series_id = s.id"
            " WHERE rs.run_id = ? AND s.type IN ('gauge', 'sum') AND p.time > ?"
            " ORDER BY p.time LIMIT ?",
            (run_id, after, limit),
        ).fetchall()
    series = conn.execute(
        "SELECT s.id, s.name, s.attributes FROM resources rs JOIN series s"
        " ON s.resource_id = rs.id WHERE rs.run_id = ? AND s.type IN ('gauge', 'sum')",
        (run_id,),
    ).fetchall()
    rows = [
        (name, attributes, step, t, value)
        for sid, name, attributes in series
        for step, t, value in read_points(conn, sid, from_time=after + 1, limit=limit).rows()
    ]
    rows.sort(key=lambda row: row[3])
    return rows[:limit]


def _event(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0],
        "name": row[1],
        "time": row[2],
        "severity": row[3],
        "severity_text": row[4],
        "body": jsonable(loads(row[5])),
        "attributes": jsonable(loads(row[6]) or {}),
    }
