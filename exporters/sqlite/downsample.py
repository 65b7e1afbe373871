"""One series' points as columns, whole or downsampled keeping its shape (min/max per bucket)."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from typing import Any

from trainwire.exporters.sqlite.rollups import SHIFTS
from trainwire.exporters.sqlite.values import json_number

__all__ = ["downsample", "series_points"]


def _step_bounds(from_step: int | None, to_step: int | None) -> tuple[str, list[Any]]:
    sql, args = "", []
    if from_step is not None:
        sql += " AND step >= ?"
        args.append(from_step)
    if to_step is not None:
        sql += " AND step <= ?"
        args.append(to_step)
    return sql, args


def _columns(
    rows: Iterable[tuple[Any, ...]], total: int | None, downsampled: bool
) -> dict[str, Any]:
    """``(step, time, value)`` rows as three lists (``total``: their count when None)."""
    steps: list[Any] = []
    times: list[int] = []
    values: list[Any] = []
    add_step, add_time, add_value = steps.append, times.append, values.append
    for step, t, value in rows:  # one pass beats fetchall() + zip(*rows) about twice over
        add_step(step)
        add_time(t)
        add_value(value)
    if None in values or math.inf in values or -math.inf in values:
        values = [json_number(math.nan if v is None else v) for v in values]
    return {
        "total": len(times) if total is None else total,
        "downsampled": downsampled,
        "step": steps,
        "time": times,
        "value": values,
    }


def series_points(
    conn: sqlite3.Connection,
    series_id: int,
    from_step: int | None,
    to_step: int | None,
    limit: int | None,
) -> dict[str, Any]:
    """Every point (the first ``limit``) of the series within the steps, in time order."""
    bounds, args = _step_bounds(from_step, to_step)
    sql = f"SELECT step, time, value FROM points WHERE series_id = ?{bounds} ORDER BY time"
    if limit is not None:
        sql += " LIMIT ?"
        args = [*args, limit]
    total = None
    if limit is not None:
        (total,) = conn.execute(
            f"SELECT count(*) FROM points WHERE series_id = ?{bounds}",
            (series_id, *args[:-1]),
        ).fetchone()
    return _columns(conn.execute(sql, (series_id, *args)), total, False)


def downsample(
    conn: sqlite3.Connection,
    series_id: int,
    from_step: int | None,
    to_step: int | None,
    max_points: int,
) -> dict[str, Any]:
    """At most about ``max_points`` points keeping the series' shape: time is split into
    ``max_points // 4`` equal buckets, each keeping its first, lowest, highest and last
    point (and its first NaN). Read from the rollups (rollups.py), not the points, unless
    steps bound the range or the series is too dense for the finest rollup."""
    if from_step is not None or to_step is not None:
        return _scan(conn, series_id, from_step, to_step, max_points)
    total = conn.execute(
        "SELECT sum(count) FROM point_rollups WHERE series_id = ? AND shift = ?",
        (series_id, SHIFTS[-1]),
    ).fetchone()[0]
    if not total or total <= max_points:
        return series_points(conn, series_id, None, None, None)
    first = conn.execute(
        "SELECT time FROM points WHERE series_id = ? ORDER BY time LIMIT 1", (series_id,)
    ).fetchone()[0]
    last = conn.execute(
        "SELECT time FROM points WHERE series_id = ? ORDER BY time DESC LIMIT 1", (series_id,)
    ).fetchone()[0]
    buckets = max(1, max_points // 4)
    width = (last - first) // buckets + 1
    fitting = [s for s in SHIFTS if (1 << s) * 4 <= width]
    if not fitting:
        return _scan(conn, series_id, None, None, max_points)
    shift = fitting[-1]
    keep: dict[int, tuple[Any, Any]] = {}
    best: dict[int, list[Any]] = {}
    for row in conn.execute(
        "SELECT first_time, first_step, first_value, last_time, last_step, last_value,"
        " min_time, min_step, min_value, max_time, max_step, max_value, nan_time"
        " FROM point_rollups WHERE series_id = ? AND shift = ? ORDER BY block",
        (series_id, shift),
    ):
        b = (row[0] - first) // width
        cur = best.get(b)
        if cur is None:
            best[b] = list(row)
            continue
        # first stays (blocks come in time order); last moves on; extremes compare.
        cur[3:6] = row[3:6]
        if row[8] is not None and (cur[8] is None or row[8] < cur[8]):
            cur[6:9] = row[6:9]
        if row[11] is not None and (cur[11] is None or row[11] > cur[11]):
            cur[9:12] = row[9:12]
        if cur[12] is None:
            cur[12] = row[12]
    for cur in best.values():
        for t, step, value in (cur[0:3], cur[3:6], cur[6:9], cur[9:12]):
            if t is not None:
                keep[t] = (step, value)
        if cur[12] is not None:
            keep[cur[12]] = (_step_at(conn, series_id, cur[12]), None)
    # A step that arrived after its points (split requests) is in points, not the rollups.
    rows = [
        (keep[t][0] if keep[t][0] is not None else _step_at(conn, series_id, t), t, keep[t][1])
        for t in sorted(keep)
    ]
    return _columns(rows, int(total), True)


def _step_at(conn: sqlite3.Connection, series_id: int, time: int) -> int | None:
    row = conn.execute(
        "SELECT step FROM points WHERE series_id = ? AND time = ?", (series_id, time)
    ).fetchone()
    return None if row is None else row[0]


def _scan(
    conn: sqlite3.Connection,
    series_id: int,
    from_step: int | None,
    to_step: int | None,
    max_points: int,
) -> dict[str, Any]:
    """Downsample by scanning the points (a step range, or buckets finer than any rollup)."""
    bounds, args = _step_bounds(from_step, to_step)
    where = f"series_id = ?{bounds}"
    params = (series_id, *args)
    total, first, last = conn.execute(
        f"SELECT count(*), min(time), max(time) FROM points WHERE {where}", params
    ).fetchone()
    if total <= max_points:
        return series_points(conn, series_id, from_step, to_step, None) | {"total": total}
    buckets = max(1, max_points // 4)
    width = (last - first) // buckets + 1
    keep: dict[int, tuple[Any, ...]] = {}
    bucket = "(time - ?) / ?"
    for pick, extra in (
        ("min(time)", ""),
        ("max(time)", ""),
        ("min(value)", ""),
        ("max(value)", ""),
        ("min(time)", " AND value IS NULL"),
    ):
        # SQLite fills bare columns from the row that gave the single min()/max().
        for row in conn.execute(
            f"SELECT {pick}, step, time, value FROM points WHERE {where}{extra} GROUP BY {bucket}",
            (*params, first, width),
        ):
            if row[0] is not None or pick == "min(time)":
                keep[row[2]] = row[1:]
    rows = [keep[t] for t in sorted(keep)]
    return _columns(rows, total, True)
