"""A run's distributions as JSON: ``log_histogram`` and OpenTelemetry histograms/summaries.

Each series is ``{"key", "attributes", "source", "unit", "type", "total", "points"}``;
``type`` is ``histogram``, ``exponential_histogram`` or ``summary`` and each point is
``{"step", "time", "count", "sum", "min", "max"}`` plus the type's buckets as stored
(``bounds``/``counts``; ``scale``/``zero_count``/``positive``/``negative``; ``quantiles``)
and ``temporality`` where OTLP has one.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from trainwire import semconv
from trainwire.exporters.sqlite.values import jsonable, loads

__all__ = ["DISTRIBUTION_TYPES", "histogram_series"]

DISTRIBUTION_TYPES = ("histogram", "exponential_histogram", "summary")


def histogram_series(
    conn: sqlite3.Connection,
    run_id: str,
    *,
    key: str | None = None,
    from_step: int | None = None,
    to_step: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The run's distribution series (one name with ``key``), points in time order.

    ``from_step``/``to_step`` bound the steps (inclusive); ``limit`` keeps each series'
    first points (``total`` counts them all in range).
    """
    marks = ", ".join("?" * len(DISTRIBUTION_TYPES))
    sql = (
        "SELECT s.id, s.name, s.attributes, s.scope_name, s.unit, s.type FROM series s"
        f" JOIN resources r ON r.id = s.resource_id WHERE r.run_id = ? AND s.type IN ({marks})"
    )
    args: list[Any] = [run_id, *DISTRIBUTION_TYPES]
    if key is not None:
        sql += " AND s.name = ?"
        args.append(key)
    bounds, bound_args = "", []
    if from_step is not None:
        bounds += " AND step >= ?"
        bound_args.append(from_step)
    if to_step is not None:
        bounds += " AND step <= ?"
        bound_args.append(to_step)
    out = []
    for sid, name, attributes, scope, unit, kind in conn.execute(
        sql + " ORDER BY s.name, s.attributes, s.id", args
    ).fetchall():
        where = f"FROM distributions WHERE series_id = ?{bounds}"
        (total,) = conn.execute(f"SELECT count(*) {where}", (sid, *bound_args)).fetchone()
        page = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = conn.execute(
            f"SELECT step, time, count, sum, min, max, data {where} ORDER BY time{page}",
            (sid, *bound_args),
        )
        out.append(
            {
                "key": name,
                "attributes": json.loads(attributes),
                "source": "logged" if scope == semconv.SCOPE_NAME else "system",
                "unit": unit,
                "type": kind,
                "total": total,
                "points": [_point(row) for row in rows],
            }
        )
    return out


def _point(row: tuple[Any, ...]) -> dict[str, Any]:
    step, time, count, total, low, high, data = row
    stored = loads(data)
    point = {"step": step, "time": time, "count": count, "sum": total, "min": low, "max": high}
    if isinstance(stored, dict):
        point.update({k: v for k, v in stored.items() if k not in point})
    return jsonable(point)  # type: ignore[no-any-return]
