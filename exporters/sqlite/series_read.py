"""Read one series' points as stored: sealed chunks (chunks.py) merged with loose points."""

from __future__ import annotations

import math
import sqlite3
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from trainwire.exporters.sqlite.chunks import DECODE_COLUMNS, decode

__all__ = ["SeriesPoints", "count_points", "last_point", "read_points", "snapshot", "step_at"]


@dataclass
class SeriesPoints:
    """A series' points as three columns in time order; NaN values are NaN."""

    steps: list[int | None] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    nonfinite: bool = False
    """Some value is NaN or ±inf (JSON needs them spelled out)."""

    def __len__(self) -> int:
        return len(self.times)

    def rows(self) -> list[tuple[int | None, int, float]]:
        """``(step, time, value)`` tuples."""
        return list(zip(self.steps, self.times, self.values, strict=True))

    def extend_stored(self, rows: Iterable[tuple[int | None, int, float | None]]) -> None:
        """Append ``(step, time, value)`` rows as stored in a table (NaN as None)."""
        for step, t, stored in rows:
            self.steps.append(step)
            self.times.append(t)
            if stored is None or not math.isfinite(stored):
                self.nonfinite = True
            self.values.append(math.nan if stored is None else float(stored))

    def head(self, limit: int) -> SeriesPoints:
        """The first ``limit`` points."""
        return SeriesPoints(
            self.steps[:limit], self.times[:limit], self.values[:limit], self.nonfinite
        )


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction around several SELECTs, so they see the store at one moment
    (a seal or a rewind committing between them would otherwise lose or repeat points).
    Inside a transaction already (the writer's), that one serves."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")  # reads only: this just ends the snapshot


def read_points(
    conn: sqlite3.Connection,
    series_id: int,
    *,
    from_step: int | None = None,
    to_step: int | None = None,
    from_time: int | None = None,
    to_time: int | None = None,
    limit: int | None = None,
) -> SeriesPoints:
    """The series' points with ``from_step <= step <= to_step`` (a bound excludes points
    without a step) and ``from_time <= time < to_time``, in time order; the first
    ``limit`` of them when given (then only the chunks needed are decoded)."""
    chunk_where, loose_where, args = "", "", []
    for bound, value, chunk_sql, loose_sql in (
        (from_time, from_time, " AND last_time >= ?", " AND time >= ?"),
        (to_time, to_time, " AND first_time < ?", " AND time < ?"),
        (from_step, from_step, " AND max_step >= ?", " AND step >= ?"),
        (to_step, to_step, " AND min_step <= ?", " AND step <= ?"),
    ):
        if bound is not None:
            chunk_where += chunk_sql
            loose_where += loose_sql
            args.append(value)
    # The first `limit` loose points by time hold every loose point of the first `limit`.
    loose_sql = f"SELECT step, time, value FROM points WHERE series_id = ?{loose_where}"
    loose_sql += " ORDER BY time" + ("" if limit is None else f" LIMIT {int(limit)}")
    with snapshot(conn):
        chunks = conn.execute(
            f"SELECT first_time, last_time, {DECODE_COLUMNS} FROM point_chunks"
            f" WHERE series_id = ?{chunk_where} ORDER BY last_time",
            (series_id, *args),
        ).fetchall()
        loose = conn.execute(loose_sql, (series_id, *args)).fetchall()
    in_order = all(chunks[i][0] > chunks[i - 1][1] for i in range(1, len(chunks)))
    if chunks and loose and loose[0][1] <= chunks[-1][1]:
        in_order = False
    out = SeriesPoints()
    for _, _, *columns in chunks:
        if in_order and limit is not None and len(out.times) >= limit:
            break
        times, steps, values, nonfinite = decode(*columns)
        if from_time is not None or to_time is not None:
            times, steps, values = _time_slice(times, steps, values, from_time, to_time)
        if from_step is not None or to_step is not None:
            times, steps, values = _step_filter(times, steps, values, from_step, to_step)
        out.times += times
        out.steps += steps
        out.values += values
        out.nonfinite |= nonfinite
    if in_order and limit is not None and len(out.times) >= limit:
        loose = []
    out.extend_stored(loose)
    if not in_order:  # late points, or chunks that overlap: rare
        ordered = sorted(zip(out.times, out.steps, out.values, strict=True))
        out.times = [r[0] for r in ordered]
        out.steps = [r[1] for r in ordered]
        out.values = [r[2] for r in ordered]
    return out if limit is None else out.head(limit)


def _time_slice(
    times: list[int], steps: list[Any], values: list[float], low: int | None, high: int | None
) -> tuple[list[int], list[Any], list[float]]:
    start = 0 if low is None else bisect_left(times, low)
    end = len(times) if high is None else bisect_left(times, high)
    return times[start:end], steps[start:end], values[start:end]


def _step_filter(
    times: list[int], steps: list[Any], values: list[float], low: int | None, high: int | None
) -> tuple[list[int], list[Any], list[float]]:
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    keep = [i for i, s in enumerate(steps) if s is not None and lo <= s <= hi]
    return [times[i] for i in keep], [steps[i] for i in keep], [values[i] for i in keep]


def last_point(conn: sqlite3.Connection, series_id: int) -> tuple[Any, int | None, int] | None:
    """``(value, step, time)`` of the series' latest point (value None for NaN), or None."""
    with snapshot(conn):
        return _last_point(conn, series_id)


def _last_point(conn: sqlite3.Connection, series_id: int) -> tuple[Any, int | None, int] | None:
    loose = conn.execute(
        "SELECT value, step, time FROM points WHERE series_id = ? ORDER BY time DESC LIMIT 1",
        (series_id,),
    ).fetchone()
    sealed = conn.execute(
        "SELECT last_value, last_step, last_time FROM point_chunks WHERE series_id = ?"
        " ORDER BY last_time DESC LIMIT 1",
        (series_id,),
    ).fetchone()
    if loose is None or (sealed is not None and sealed[2] > loose[2]):
        return None if sealed is None else tuple(sealed)  # type: ignore[return-value]
    return tuple(loose)  # type: ignore[return-value]


def step_at(conn: sqlite3.Connection, series_id: int, time: int) -> int | None:
    """The step of the series' point at ``time`` (None: no step, or no such point)."""
    with snapshot(conn):
        return _step_at(conn, series_id, time)


def _step_at(conn: sqlite3.Connection, series_id: int, time: int) -> int | None:
    row = conn.execute(
        "SELECT step FROM points WHERE series_id = ? AND time = ?", (series_id, time)
    ).fetchone()
    if row is not None:
        return None if row[0] is None else int(row[0])
    for columns in conn.execute(
        f"SELECT {DECODE_COLUMNS} FROM point_chunks WHERE series_id = ? AND last_time >= ?"
        " AND first_time <= ?",
        (series_id, time, time),
    ):
        times, steps, _, _ = decode(*columns)
        at = bisect_left(times, time)
        if at < len(times) and times[at] == time:
            return steps[at]
    return None


def count_points(conn: sqlite3.Connection, series_id: int) -> int:
    """How many points the series holds, sealed and loose."""
    (total,) = conn.execute(
        "SELECT (SELECT coalesce(sum(count), 0) FROM point_chunks WHERE series_id = ?)"
        " + (SELECT count(*) FROM points WHERE series_id = ?)",
        (series_id, series_id),
    ).fetchone()
    return int(total)
