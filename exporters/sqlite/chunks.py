"""Sealed chunks: a series' older points packed into compressed columns, 1,024 points a row.

The writer stores new points as rows of ``points`` ("loose" points: inserts stay
idempotent by primary key, and a step that arrives after its points can still be filled
in). Once a series holds ``2 * CHUNK_POINTS`` loose points, :func:`seal` packs its oldest
``CHUNK_POINTS`` into one ``point_chunks`` row, so the newest point of a series is
always loose. A row of ``points`` costs about 30 bytes and a Python tuple to read; a
sealed point costs a few bytes and is read with ``array.frombytes``.

Columns of a chunk (each zlib-compressed, 8-byte lanes byte-shuffled so the slowly
changing high bytes compress):

- ``time_data``: int64 time deltas (the first one absolute);
- ``step_data``: int64 steps, ``_NO_STEP`` for a point without one; empty when the
  steps are ``min_step, min_step + 1, ...`` (the usual ``run.log()`` series);
- ``value_data``: float64 values, NaN and ±inf kept as they are.

Only points that have a step are sealed in the SDK's own scope: a step-less one may
still get its step from a later request. Plain OpenTelemetry series have no steps and
are sealed as they come. :mod:`~trainwire.exporters.sqlite.series_read` merges chunks
with loose points for every reader.
"""

from __future__ import annotations

import array
import math
import operator
import sqlite3
import sys
import zlib
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import Any

from trainwire import semconv
from trainwire.errors import CorruptStoreError

__all__ = [
    "CHUNK_POINTS",
    "DECODE_COLUMNS",
    "Chunk",
    "decode",
    "encode",
    "seal",
    "seal_all",
    "sealed_times",
    "unseal",
]

CHUNK_POINTS = 1024
_NO_STEP = -(2**63)
_NONFINITE = 1  # some value is NaN or ±inf
_STEP_MISSING = 2  # some point has no step
_STEPS_CONSECUTIVE = 4  # steps are min_step, min_step + 1, ... (step_data is empty)
_LEVEL = 1  # zlib: level 6 saves under 5 % more here and costs half again the time
_LITTLE = sys.byteorder == "little"

Chunk = tuple[list[int], list[int | None], list[float], bool]
"""Decoded columns: times, steps, values (NaN as NaN), and whether some value is not finite."""

_INSERT = (
    "INSERT INTO point_chunks(series_id, last_time, first_time, count, min_step, max_step,"
    " last_step, last_value, flags, time_data, step_data, value_data)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
DECODE_COLUMNS = "count, min_step, flags, time_data, step_data, value_data"
"""The ``point_chunks`` columns :func:`decode` takes, in its order."""


def _pack(kind: str, items: Iterable[Any]) -> bytes:
    packed = items if isinstance(items, array.array) else array.array(kind, items)
    if not _LITTLE:
        packed.byteswap()
    raw = packed.tobytes()
    return zlib.compress(b"".join(raw[lane::8] for lane in range(8)), _LEVEL)


def _unpack(kind: str, blob: bytes, count: int) -> list[Any]:
    try:
        shuffled = zlib.decompress(blob)
    except (zlib.error, TypeError) as exc:
        raise CorruptStoreError(
            f"a packed chunk of {count} points does not decompress ({exc}); the store file"
            " is damaged: restore it from a backup, or `trainwire rm` the run"
        ) from None
    if len(shuffled) != 8 * count:
        raise CorruptStoreError(
            f"a packed chunk should hold {count} points but holds {len(shuffled) / 8:g};"
            " the store file is damaged: restore it from a backup, or `trainwire rm` the run"
        )
    raw = bytearray(8 * count)
    for lane in range(8):
        raw[lane::8] = shuffled[lane * count : (lane + 1) * count]
    packed = array.array(kind)
    packed.frombytes(raw)
    if not _LITTLE:
        packed.byteswap()
    return packed.tolist()


def encode(
    times: Sequence[int], steps: Sequence[int | None], values: Sequence[float | None]
) -> tuple[Any, ...]:
    """The ``point_chunks`` columns after ``series_id`` for points in time order."""
    n = len(times)
    deltas = [times[0], *map(operator.sub, times[1:], times)] if n else []
    if None in values:
        floats = array.array("d", [math.nan if v is None else v for v in values])
    else:
        floats = array.array("d", values)  # type: ignore[arg-type]  # no None here
    flags = _NONFINITE if not all(map(math.isfinite, floats)) else 0
    present = [s for s in steps if s is not None]
    low = min(present) if present else None
    high = max(present) if present else None
    if len(present) < n:
        flags |= _STEP_MISSING
        step_data = _pack("q", (_NO_STEP if s is None else s for s in steps))
    elif n and low is not None and list(steps) == list(range(low, low + n)):
        flags |= _STEPS_CONSECUTIVE
        step_data = b""
    else:
        step_data = _pack("q", steps)  # type: ignore[arg-type]  # no None here
    last_value = floats[-1] if n and not math.isnan(floats[-1]) else None
    return (
        times[-1], times[0], n, low, high, steps[-1] if n else None, last_value, flags,
        _pack("q", deltas), step_data, _pack("d", floats),
    )  # fmt: skip


def decode(
    count: int, min_step: int | None, flags: int, time_data: bytes, step_data: bytes,
    value_data: bytes,
) -> Chunk:  # fmt: skip
    """The columns of one chunk (arguments in the order of :data:`DECODE_COLUMNS`)."""
    times = list(accumulate(_unpack("q", time_data, count)))
    steps: list[int | None]
    if flags & _STEPS_CONSECUTIVE:
        start = min_step or 0
        steps = list(range(start, start + count))
    else:
        steps = _unpack("q", step_data, count)
        if flags & _STEP_MISSING:
            steps = [None if s == _NO_STEP else s for s in steps]
    return times, steps, _unpack("d", value_data, count), bool(flags & _NONFINITE)


def seal(conn: sqlite3.Connection, series_id: int, stepped_only: bool) -> int:
    """Pack the oldest ``CHUNK_POINTS`` loose points of the series into a chunk, if it has
    at least twice that many; return how many points were sealed (0 or ``CHUNK_POINTS``).

    ``stepped_only``: leave points without a step loose (the SDK's scope: see above).
    """
    stepped = " AND step IS NOT NULL" if stepped_only else ""
    enough = conn.execute(
        f"SELECT 1 FROM points WHERE series_id = ?{stepped} ORDER BY time LIMIT 1 OFFSET ?",
        (series_id, 2 * CHUNK_POINTS - 1),
    ).fetchone()
    if enough is None:
        return 0
    rows = conn.execute(
        f"SELECT time, step, value FROM points WHERE series_id = ?{stepped} ORDER BY time LIMIT ?",
        (series_id, CHUNK_POINTS),
    ).fetchall()
    times, steps, values = (list(column) for column in zip(*rows, strict=True))
    conn.execute(_INSERT, (series_id, *encode(times, steps, values)))
    conn.execute(
        f"DELETE FROM points WHERE series_id = ? AND time >= ? AND time <= ?{stepped}",
        (series_id, times[0], times[-1]),
    )
    return len(rows)


def seal_all(conn: sqlite3.Connection) -> None:
    """Seal every series as far as it goes (the migration to schema 6)."""
    series = conn.execute(
        "SELECT id, scope_name = ? FROM series WHERE type IN ('gauge', 'sum')",
        (semconv.SCOPE_NAME,),
    ).fetchall()
    for sid, own in series:
        while seal(conn, sid, bool(own)):
            pass


def sealed_times(conn: sqlite3.Connection, series_id: int, low: int, high: int) -> set[int]:
    """The times of the series' sealed points in chunks that overlap ``[low, high]``."""
    out: set[int] = set()
    for row in conn.execute(
        f"SELECT {DECODE_COLUMNS} FROM point_chunks WHERE series_id = ? AND last_time >= ?"
        " AND first_time <= ?",
        (series_id, low, high),
    ):
        out.update(decode(*row)[0])  # whole: a damaged chunk is reported, not skipped
    return out


def unseal(
    conn: sqlite3.Connection, series_id: int, where: str = "", args: Sequence[Any] = ()
) -> int:
    """Turn the series' chunks matching ``where`` (SQL on ``point_chunks``, starting with
    ``AND``) back into loose points; return how many chunks were opened."""
    found = conn.execute(
        f"SELECT last_time, {DECODE_COLUMNS} FROM point_chunks WHERE series_id = ?{where}",
        (series_id, *args),
    ).fetchall()
    for last_time, *columns in found:
        times, steps, values, _ = decode(*columns)
        conn.executemany(
            "INSERT OR IGNORE INTO points VALUES (?,?,?,?)",
            [
                (series_id, t, s, None if v != v else v)
                for t, s, v in zip(times, steps, values, strict=True)
            ],
        )
        conn.execute(
            "DELETE FROM point_chunks WHERE series_id = ? AND last_time = ?",
            (series_id, last_time),
        )
    return len(found)
