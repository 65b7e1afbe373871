"""One series' points as columns, whole or downsampled keeping its shape (min/max per bucket)."""

from __future__ import annotations

import math
import sqlite3
from typing import Any

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


def _columns(rows: list[tuple[Any, ...]], total: int, downsampled: bool) -> dict[str, Any]:
    steps, times, values = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [])
    if None in values or math.inf in values or -math.inf in values:
        values = [json_number(math.nan if v is None else v) for v in values]
    return {
        "total": total,
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
    rows = conn.execute(sql, (series_id, *args)).fetchall()
    if limit is None:
        total = len(rows)
    else:
        (total,) = conn.execute(
            f"SELECT count(*) FROM points WHERE series_id = ?{bounds}",
            (series_id, *args[:-1]),
        ).fetchone()
    return _columns(rows, total, False)


def downsample(
    conn: sqlite3.Connection,
    series_id: int,
    from_step: int | None,
    to_step: int | None,
    max_points: int,
) -> dict[str, Any]:
    """At most ``max_points`` points: time split into ``max_points // 4`` equal buckets,
    each keeping its first, lowest, highest and last point (and its first NaN)."""
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
