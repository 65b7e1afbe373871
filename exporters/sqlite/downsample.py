"""One series' points as columns, whole or downsampled keeping its shape (min/max per bucket)."""

from __future__ import annotations

import sqlite3
from typing import Any

from trainwire.exporters.sqlite.rollups import SHIFTS
from trainwire.exporters.sqlite.series_read import (
    SeriesPoints,
    count_points,
    read_points,
    step_at,
)
from trainwire.exporters.sqlite.values import json_number

__all__ = ["downsample", "series_points"]


def _columns(points: SeriesPoints, total: int | None, downsampled: bool) -> dict[str, Any]:
    """The points as three JSON-ready lists (``total``: their count when None)."""
    values: list[Any] = points.values
    if points.nonfinite:
        values = [json_number(v) for v in values]
    return {
        "total": len(points) if total is None else total,
        "downsampled": downsampled,
        "step": points.steps,
        "time": points.times,
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
    if limit is not None and from_step is None and to_step is None:
        total = count_points(conn, series_id)  # then only the chunks needed are decoded
        return _columns(read_points(conn, series_id, limit=limit), total, False)
    points = read_points(conn, series_id, from_step=from_step, to_step=to_step)
    if limit is None:
        return _columns(points, None, False)
    return _columns(points.head(limit), len(points), False)


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
    first, last = conn.execute(
        "SELECT min(first_time), max(last_time) FROM point_rollups"
        " WHERE series_id = ? AND shift = ?",
        (series_id, SHIFTS[-1]),
    ).fetchone()
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
            keep[cur[12]] = (step_at(conn, series_id, cur[12]), None)
    # A step that arrived after its points (split requests) is in points, not the rollups.
    out = SeriesPoints()
    out.extend_stored(
        (keep[t][0] if keep[t][0] is not None else step_at(conn, series_id, t), t, keep[t][1])
        for t in sorted(keep)
    )
    return _columns(out, int(total), True)


def _scan(
    conn: sqlite3.Connection,
    series_id: int,
    from_step: int | None,
    to_step: int | None,
    max_points: int,
) -> dict[str, Any]:
    """Downsample by reading the points (a step range, or buckets finer than any rollup)."""
    points = read_points(conn, series_id, from_step=from_step, to_step=to_step)
    total = len(points)
    if total <= max_points:
        return _columns(points, None, False)
    times, values = points.times, points.values
    first = times[0]
    width = (times[-1] - first) // max(1, max_points // 4) + 1
    keep: set[int] = set()  # indexes of the points kept
    bucket, start = (times[0] - first) // width, 0
    for i in range(1, total + 1):
        b = (times[i] - first) // width if i < total else None
        if b == bucket:
            continue
        keep.update(_shape(values, start, i))
        if b is not None:
            bucket, start = b, i
    out = SeriesPoints(nonfinite=points.nonfinite)
    for i in sorted(keep):
        out.steps.append(points.steps[i])
        out.times.append(times[i])
        out.values.append(values[i])
    return _columns(out, total, True)


def _shape(values: list[float], start: int, end: int) -> tuple[int, ...]:
    """Indexes of the first, last, lowest and highest value in ``[start, end)``, and of
    the first NaN (NaN is neither lowest nor highest)."""
    part = values[start:end]
    finite = [v for v in part if v == v]
    picked = [start, end - 1]
    if finite:
        picked += [start + part.index(min(finite)), start + part.index(max(finite))]
    if len(finite) < len(part):
        picked.append(start + next(i for i, v in enumerate(part) if v != v))
    return tuple(picked)
