"""Per-series rollups of points in time blocks, so downsampling never scans every point.

For each series and each level (block = ``time >> shift``; shifts 26, 32, 38, i.e.
blocks of ≈ 67 ms, 4.3 s and 4.6 min) ``point_rollups`` keeps the count (and of NaNs) and the
first, last, lowest and highest point (time, step, value) and the time of the first NaN.
The writer folds each batch of new points in; aggregates of a block merge exactly
(count adds, extremes compare), so the common path reads nothing back. When some rows
of a batch were already stored (a re-sent request), the blocks it touched are recomputed
from the stored points instead. A ``resume_from`` rewind (and removing a run) recomputes or
drops the rollups of the series it changed.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any

from trainwire.exporters.sqlite.series_read import read_points

__all__ = ["SHIFTS", "flush", "fold", "rebuild", "rebuild_all", "rebuild_series"]

_END = 1 << 62
"""Past any time a store holds (year 2116), aligned to every block size."""

SHIFTS = (26, 32, 38)

_UPSERT = (
    "INSERT INTO point_rollups VALUES (?,?,?,?,?, ?,?,?, ?,?,?, ?,?,?, ?,?,?, ?)"
    " ON CONFLICT(series_id, shift, block) DO UPDATE SET count = count + excluded.count,"
    " nan_count = nan_count + excluded.nan_count,"
    " first_step = CASE WHEN excluded.first_time < first_time THEN excluded.first_step"
    " ELSE first_step END,"
    " first_value = CASE WHEN excluded.first_time < first_time THEN excluded.first_value"
    " ELSE first_value END,"
    " first_time = min(first_time, excluded.first_time),"
    " last_step = CASE WHEN excluded.last_time > last_time THEN excluded.last_step"
    " ELSE last_step END,"
    " last_value = CASE WHEN excluded.last_time > last_time THEN excluded.last_value"
    " ELSE last_value END,"
    " last_time = max(last_time, excluded.last_time),"
    " min_time = CASE WHEN min_value IS NULL OR excluded.min_value < min_value"
    " THEN excluded.min_time ELSE min_time END,"
    " min_step = CASE WHEN min_value IS NULL OR excluded.min_value < min_value"
    " THEN excluded.min_step ELSE min_step END,"
    " min_value = coalesce(min(min_value, excluded.min_value), min_value, excluded.min_value),"
    " max_time = CASE WHEN max_value IS NULL OR excluded.max_value > max_value"
    " THEN excluded.max_time ELSE max_time END,"
    " max_step = CASE WHEN max_value IS NULL OR excluded.max_value > max_value"
    " THEN excluded.max_step ELSE max_step END,"
    " max_value = coalesce(max(max_value, excluded.max_value), max_value, excluded.max_value),"
    " nan_time = coalesce(min(nan_time, excluded.nan_time), nan_time, excluded.nan_time)"
)


def fold(
    conn: sqlite3.Connection,
    rows: Sequence[tuple[Any, ...]],
    all_new: bool,
    pending: list[tuple[Any, ...]] | None = None,
) -> None:
    """Fold newly inserted point rows ``(series_id, time, step, value)`` into the rollups.

    ``all_new``: every row was inserted (none was already stored); otherwise the blocks
    the rows touch are recomputed from the stored points. With ``pending``, the rollup
    rows are appended there for one :func:`flush` per request. This runs on the store's
    hot path, so it works on whole columns with C-level builtins.
    """
    if not rows:
        return
    sids, times, steps, values = zip(*rows, strict=True)
    if not all_new or len(set(sids)) != 1:
        if pending:
            flush(conn, pending)
        _recompute(conn, rows)
        return
    ordered = sorted(times)
    if list(times) != ordered:
        rows = sorted(rows, key=lambda r: r[1])
        sids, times, steps, values = zip(*rows, strict=True)
    sid, n = sids[0], len(times)
    out = []
    whole: tuple[Any, ...] | None = None  # the batch in one block: the same at coarser levels
    for shift in SHIFTS:
        block = times[0] >> shift
        if times[-1] >> shift == block:
            if whole is None:
                whole = _aggregate(sid, shift, block, times, steps, values, 0, n)
            out.append((sid, shift, block, *whole[3:]))
            continue
        start = 0
        while start < n:
            block = times[start] >> shift
            end = bisect_left(times, (block + 1) << shift, start)
            out.append(_aggregate(sid, shift, block, times, steps, values, start, end))
            start = end
    if pending is None:
        conn.executemany(_UPSERT, out)
    else:
        pending.extend(out)


def flush(conn: sqlite3.Connection, pending: list[tuple[Any, ...]]) -> None:
    """Write the rollup rows :func:`fold` collected, and empty ``pending``."""
    if pending:
        conn.executemany(_UPSERT, pending)
        pending.clear()


def _aggregate(
    sid: int,
    shift: int,
    block: int,
    times: Sequence[int],
    steps: Sequence[int | None],
    values: Sequence[float | None],
    start: int,
    end: int,
) -> tuple[Any, ...]:
    part = values[start:end]
    nan_time = low_at = high_at = low = high = None
    nan_count = 0
    if None in part:
        nan_time = times[start + part.index(None)]
        nan_count = part.count(None)
        present = [v for v in part if v is not None]
        if present:
            low, high = min(present), max(present)
    else:
        low, high = min(part), max(part)  # type: ignore[type-var]  # no None here
    if low is not None:
        low_at, high_at = start + part.index(low), start + part.index(high)
    last = end - 1
    return (
        sid, shift, block, end - start, nan_count,
        times[start], steps[start], values[start],
        times[last], steps[last], values[last],
        None if low_at is None else times[low_at], None if low_at is None else steps[low_at], low,
        None if high_at is None else times[high_at], None if high_at is None else steps[high_at],
        high, nan_time,
    )  # fmt: skip


def _recompute(conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Recompute every block the rows fall in, from the stored points."""
    spans: dict[int, tuple[int, int]] = {}
    for sid, t, *_ in rows:
        low, high = spans.get(sid, (t, t))
        spans[sid] = (min(low, t), max(high, t))
    for sid, (low, high) in spans.items():
        shift = SHIFTS[-1]
        rebuild(conn, sid, (low >> shift) << shift, ((high >> shift) + 1) << shift)


def rebuild(conn: sqlite3.Connection, series_id: int, start: int, end: int) -> None:
    """Recompute the rollups of ``series_id`` for the whole blocks within ``[start, end)``.

    ``start`` and ``end`` must be aligned to the largest block (``SHIFTS[-1]``).
    """
    conn.execute(
        "DELETE FROM point_rollups WHERE series_id = ? AND block >= (? >> shift)"
        " AND block < (? >> shift)",
        (series_id, start, end),
    )
    points = read_points(conn, series_id, from_time=start, to_time=end)
    rows = [
        (series_id, t, step, None if value != value else value)  # NaN folds as NULL
        for step, t, value in zip(points.steps, points.times, points.values, strict=True)
    ]
    if rows:
        fold(conn, rows, True)


def rebuild_series(conn: sqlite3.Connection, series_ids: Iterable[int]) -> None:
    """Recompute every rollup of these series (after a rewind moved points away)."""
    for sid in series_ids:
        rebuild(conn, sid, 0, _END)


def rebuild_all(conn: sqlite3.Connection) -> None:
    """Fold every stored point into fresh rollups (the migration to schema 5)."""
    conn.execute("DELETE FROM point_rollups")
    series = [
        sid
        for (sid,) in conn.execute(
            "SELECT DISTINCT series_id FROM points UNION SELECT series_id FROM point_chunks"
        )
    ]
    rebuild_series(conn, series)
