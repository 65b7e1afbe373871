"""The writer's side of sealed chunks (chunks.py): leave out re-sent points, seal as they add up.

Sealing costs the writer about 1.3 µs a point (reading the oldest loose points back,
packing, deleting). A writer beside the training loop (the embedded default) gives it
only a share of one core, so a burst of logging never waits on it: what is left loose
is read correctly, only slower, and sealed when its series next grows with credit to
spare.
"""

from __future__ import annotations

import sqlite3
import time
from operator import itemgetter
from typing import Any

from trainwire.exporters.sqlite.chunks import CHUNK_POINTS, seal, sealed_times

__all__ = ["Sealer"]

_SERIES, _TIME = itemgetter(0), itemgetter(1)  # of a point row (series_id, time, step, value)
_BURST_S = 0.05
"""The most sealing time a limited writer saves up while idle."""

Rows = list[tuple[Any, ...]]


class Sealer:
    """Keeps one writer's series sealed; ``cpu_share`` (0 to 1) of a core at most, 1: no limit."""

    def __init__(self, conn: sqlite3.Connection, *, cpu_share: float = 1.0) -> None:
        self._conn = conn
        self._share = cpu_share
        self._credit = 0.0  # seconds of sealing the share allows now
        self._clock = time.monotonic()
        self._loose: dict[int, int] = {}  # loose points per series, as far as known

    def fresh(self, rows: Rows) -> tuple[Rows, dict[int, int]]:
        """``rows`` less the points stored elsewhere than ``points`` (a re-sent request):
        sealed into chunks, or set aside by a rewind; and how many of those each series has."""
        if not rows:
            return rows, {}
        spans: dict[int, list[int]] = {}  # series -> [lowest time, highest time, rows]
        if len(set(map(_SERIES, rows))) == 1:  # the usual: a metric without attributes
            times = list(map(_TIME, rows))
            spans[rows[0][0]] = [min(times), max(times), len(rows)]
        else:
            for sid, t, _, _ in rows:
                span = spans.get(sid)
                if span is None:
                    spans[sid] = [t, t, 1]
                else:
                    span[2] += 1
                    span[0] = min(span[0], t)
                    span[1] = max(span[1], t)
        counts = {sid: span[2] for sid, span in spans.items()}
        for sid, (low, high, _) in spans.items():
            stored = sealed_times(self._conn, sid, low, high)
            stored.update(
                t
                for (t,) in self._conn.execute(
                    "SELECT time FROM superseded_points WHERE series_id = ? AND time >= ?"
                    " AND time <= ?",
                    (sid, low, high),
                )
            )
            if stored:
                kept = [r for r in rows if r[0] != sid or r[1] not in stored]
                counts[sid] -= len(rows) - len(kept)
                rows = kept
        return rows, counts

    def added(self, per_series: dict[int, int], all_new: bool, stepped_only: bool) -> None:
        """Count the rows just inserted (``per_series``) and seal what the credit allows.

        The counts are only a hint (another writer, or a rewind, may change the rows):
        :func:`~trainwire.exporters.sqlite.chunks.seal` checks. ``stepped_only``: the
        SDK's scope, whose points without a step stay loose.
        """
        for sid, added in per_series.items():
            loose = self._loose.get(sid) if all_new else None
            if loose is None:
                loose = self._sealable(sid, stepped_only)
            else:
                loose += added
            while loose >= 2 * CHUNK_POINTS and self._may_seal():
                started = time.perf_counter()
                sealed = seal(self._conn, sid, stepped_only)
                self._credit -= time.perf_counter() - started
                if not sealed:  # not enough after all: another writer, or a rewind
                    loose = self._sealable(sid, stepped_only)
                    break
                loose -= CHUNK_POINTS
            self._loose[sid] = loose

    def _sealable(self, sid: int, stepped_only: bool) -> int:
        """Loose points of the series that may be sealed (not those waiting for a step)."""
        stepped = " AND step IS NOT NULL" if stepped_only else ""
        (count,) = self._conn.execute(
            f"SELECT count(*) FROM points WHERE series_id = ?{stepped}", (sid,)
        ).fetchone()
        return int(count)

    def forget(self) -> None:
        """Drop the counts (after a rollback, or a rewind that moved points)."""
        self._loose.clear()

    def _may_seal(self) -> bool:
        if self._share >= 1:
            return True
        now = time.monotonic()
        self._credit = min(self._credit + (now - self._clock) * self._share, _BURST_S)
        self._clock = now
        return self._credit > 0
