"""Read runs back from the store: the query side used by the CLI (and later the API)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainwire import semconv
from trainwire.errors import RunNotFoundError
from trainwire.exporters.sqlite.runref import resolve_run
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.series_read import last_point, read_points

__all__ = ["LatestValue", "RunRecord", "StoreReader"]


@dataclass(frozen=True)
class LatestValue:
    """The most recent point of one metric of a run."""

    value: float
    step: int | None
    time: int


@dataclass(frozen=True)
class RunRecord:
    """One run as the store knows it."""

    run_id: str
    name: str
    experiment: str
    group: str | None
    status: str
    start_time: int | None
    end_time: int | None
    world_size: int
    exit_code: int | None
    exception_type: str | None
    exception_message: str | None
    exception_stacktrace: str | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end (to now for a running run is left to the caller)."""
        if self.start_time is None or self.end_time is None:
            return None
        return max(0.0, (self.end_time - self.start_time) / 1e9)


_RUN_COLUMNS = (
    "run_id, coalesce(name, run_id), experiment, group_name, status, start_time, end_time,"
    " world_size, exit_code, exception_type, exception_message, exception_stacktrace, details"
)


class StoreReader:
    """Read-only queries over a run store file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(
                f"no trainwire store at {self.path}; run a training script first,"
                " or pass --db PATH (or set TRAINWIRE_DB)"
            )
        self._conn = connect(self.path)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def runs(self, *, experiment: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        args: list[Any] = []
        if experiment is not None:
            sql += " WHERE experiment = ?"
            args.append(experiment)
        sql += " ORDER BY coalesce(start_time, 0) DESC, run_id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_run(row) for row in self._conn.execute(sql, args)]

    def resolve(self, ref: str) -> str:
        """Return the run id matching ``ref``: an exact id, a unique id prefix, or a unique name."""
        return resolve_run(self._conn, ref, self.path)

    def run(self, run_id: str) -> RunRecord:
        """The run with this exact id."""
        row = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run '{run_id}' in {self.path}")
        return _run(row)

    def params(self, run_id: str) -> dict[str, Any]:
        """Parameters (nested config flattened with dots)."""
        return self._keyed("params", run_id)

    def tags(self, run_id: str) -> dict[str, Any]:
        """Key/value tags."""
        return self._keyed("tags", run_id)

    def summary(self, run_id: str) -> dict[str, Any]:
        """Explicit summary values."""
        return self._keyed("summaries", run_id)

    def labels(self, run_id: str) -> list[str]:
        """Labels currently on the run (added and not removed)."""
        rows = self._conn.execute(
            "SELECT label FROM labels WHERE run_id = ? AND present ORDER BY label", (run_id,)
        )
        return [r[0] for r in rows]

    def latest_metrics(self, run_id: str, *, logged: bool = True) -> dict[str, LatestValue]:
        """The latest value (and its step) of each scalar metric of the run.

        ``logged=True``: those the script logged with ``run.log()``; ``False``: the
        others (system metrics, plain OpenTelemetry meters of the run).
        """
        latest: dict[str, LatestValue] = {}
        for sid, name, attributes in self._series(run_id, logged):
            row = last_point(self._conn, sid)
            if row is None:
                continue
            key = name if attributes == "{}" else f"{name}{_label_text(attributes)}"
            if key not in latest or row[2] > latest[key].time:
                latest[key] = LatestValue(_value(row[0]), row[1], row[2])
        return dict(sorted(latest.items()))

    def last_step(self, run_id: str) -> int:
        """The highest step of the run's logged points (-1 if it has none)."""
        row = self._conn.execute(
            "SELECT max(step) FROM (SELECT max(p.step) AS step FROM points p"
            " JOIN series s ON s.id = p.series_id JOIN resources r ON r.id = s.resource_id"
            " WHERE r.run_id = ? UNION ALL SELECT max(c.max_step) FROM point_chunks c"
            " JOIN series s ON s.id = c.series_id JOIN resources r ON r.id = s.resource_id"
            " WHERE r.run_id = ?)",
            (run_id, run_id),
        ).fetchone()
        return -1 if row is None or row[0] is None else int(row[0])

    def superseded(self, run_id: str, key: str) -> list[tuple[int | None, int, float]]:
        """Points of ``key`` that a ``resume_from`` rewind set aside, in time order."""
        rows = self._conn.execute(
            "SELECT p.step, p.time, p.value FROM superseded_points p"
            " JOIN series s ON s.id = p.series_id JOIN resources r ON r.id = s.resource_id"
            " WHERE r.run_id = ? AND s.name = ? ORDER BY p.time",
            (run_id, key),
        )
        return [(step, time, _value(value)) for step, time, value in rows]

    def points(self, run_id: str, key: str) -> list[tuple[int | None, int, float]]:
        """Every ``(step, time, value)`` of metric ``key`` in the run, in time order."""
        series = self._conn.execute(
            "SELECT s.id FROM series s JOIN resources r ON r.id = s.resource_id"
            " WHERE r.run_id = ? AND s.name = ? AND s.type IN ('gauge', 'sum')",
            (run_id, key),
        ).fetchall()
        rows = [row for (sid,) in series for row in read_points(self._conn, sid).rows()]
        return sorted(rows, key=lambda row: row[1]) if len(series) > 1 else rows

    def _series(self, run_id: str, logged: bool) -> list[tuple[int, str, str]]:
        scope_test = "=" if logged else "<>"
        return self._conn.execute(
            "SELECT s.id, s.name, s.attributes FROM series s"
            " JOIN resources r ON r.id = s.resource_id"
            f" WHERE r.run_id = ? AND s.type IN ('gauge', 'sum') AND s.scope_name {scope_test} ?"
            " ORDER BY s.name",
            (run_id, semconv.SCOPE_NAME),
        ).fetchall()

    def _keyed(self, table: str, run_id: str) -> dict[str, Any]:
        rows = self._conn.execute(
            f"SELECT key, value FROM {table} WHERE run_id = ? ORDER BY key", (run_id,)
        )
        return {key: json.loads(value) for key, value in rows}


def _run(row: tuple[Any, ...]) -> RunRecord:
    fields = dict(zip(_FIELDS, row[:12], strict=True))
    return RunRecord(**fields, details=json.loads(row[12] or "{}"))


_FIELDS = (
    "run_id",
    "name",
    "experiment",
    "group",
    "status",
    "start_time",
    "end_time",
    "world_size",
    "exit_code",
    "exception_type",
    "exception_message",
    "exception_stacktrace",
)


def _value(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _label_text(attributes_json: str) -> str:
    attributes = json.loads(attributes_json)
    return "{" + ",".join(f"{k}={v}" for k, v in sorted(attributes.items())) + "}"
