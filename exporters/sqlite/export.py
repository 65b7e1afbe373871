"""Export one run of the store to files: JSON Lines, CSV, or whirr's run directory.

* ``jsonl``: ``run.json`` (the run, params, tags, labels, summary, artifacts) and
  ``metrics.jsonl``, one point a line: ``{"key", "step", "time", "value"}``.
* ``csv``: ``run.json`` and ``metrics.csv`` with columns ``key,step,time,value``.
* ``whirr``: ``meta.json`` (with ``git_info`` when git was captured), ``config.json``
  (the params, nested again) and ``metrics.jsonl`` with one line per step holding every
  metric logged at it, plus ``_idx`` and ``_timestamp`` as whirr writes them.

``trainwire export --with-artifacts`` adds each artifact's bytes under ``artifacts/NAME``
(whirr's place for them), checked against their sha256.

Times are ISO 8601 UTC. NaN and infinities are written as JSON's ``NaN``/``Infinity``
(what Python's ``json`` reads back) and as ``nan``/``inf`` in CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import json
import math
import sqlite3
from collections.abc import Callable, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

from trainwire import semconv
from trainwire.exporters.sqlite.reader import StoreReader
from trainwire.exporters.sqlite.series_read import count_points, read_points

__all__ = ["FORMATS", "export_run", "run_document"]

FORMATS = ("jsonl", "csv", "whirr")
Progress = Callable[[int, int], None]
_BATCH = 5000


def export_run(
    store: StoreReader,
    conn: sqlite3.Connection,
    run_id: str,
    directory: Path,
    *,
    format: str = "jsonl",
    progress: Progress | None = None,
) -> list[Path]:
    """Write run ``run_id`` into ``directory`` (created) in ``format``; return the files.

    ``progress(done, total)`` is called as metric points are written.

    Raises:
        ValueError: ``format`` is not one of :data:`FORMATS`.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    directory.mkdir(parents=True, exist_ok=True)
    document = run_document(store, conn, run_id)
    total = _count(conn, run_id)
    report = progress or (lambda done, total: None)
    points = _points(conn, run_id, total, report)
    if format == "whirr":
        return _write_whirr(directory, document, points)
    run_file = directory / "run.json"
    run_file.write_text(json.dumps(document, indent=2) + "\n")
    iso, keys = _IsoCache(), _JsonCache()
    if format == "jsonl":
        metrics_file = directory / "metrics.jsonl"
        with open(metrics_file, "w") as f:
            for key, step, time, value in points:
                # The row json.dumps would write, built by hand: 3x faster on 1M points.
                f.write(
                    f'{{"key": {keys(key)}, "step": {"null" if step is None else step},'
                    f' "time": "{iso(time)}", "value": {_json_float(value)}}}\n'
                )
    else:
        metrics_file = directory / "metrics.csv"
        with open(metrics_file, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["key", "step", "time", "value"])
            for key, step, time, value in points:
                writer.writerow([key, "" if step is None else step, iso(time), repr(value)])
    return [run_file, metrics_file]


class _IsoCache:
    """``_iso`` remembering its last answer: the points of one log() call share a time."""

    def __init__(self) -> None:
        self._time: int | None = None
        self._text: str | None = None

    def __call__(self, time_ns: int) -> str | None:
        if time_ns != self._time:
            self._time, self._text = time_ns, _iso(time_ns)
        return self._text


class _JsonCache(dict[str, str]):
    """Metric names as JSON strings, encoded once each."""

    def __call__(self, key: str) -> str:
        text = self.get(key)
        if text is None:
            text = self[key] = json.dumps(key)
        return text


def _json_float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def run_document(store: StoreReader, conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    """Everything about a run but its points, JSON-ready."""
    run = store.run(run_id)
    return {
        "run_id": run.run_id,
        "name": run.name,
        "experiment": run.experiment,
        "group": run.group,
        "status": run.status,
        "start_time": _iso(run.start_time),
        "end_time": _iso(run.end_time),
        "duration_s": run.duration_s,
        "host": _host(conn, run_id),
        "world_size": run.world_size,
        "git": run.details.get("git"),
        "exit_code": run.exit_code,
        "exception_type": run.exception_type,
        "exception_message": run.exception_message,
        "details": run.details,
        "params": store.params(run_id),
        "tags": store.tags(run_id),
        "labels": store.labels(run_id),
        "summary": store.summary(run_id),
        "artifacts": _artifacts(conn, run_id),
    }


def _host(conn: sqlite3.Connection, run_id: str) -> str | None:
    row = conn.execute("SELECT host FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return None if row is None else row[0]


def _artifacts(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT name, kind, sha256, size, mime_type, time FROM artifacts WHERE run_id = ?"
        " ORDER BY name, time",
        (run_id,),
    )
    fields = ("name", "kind", "sha256", "size", "mime_type", "time")
    return [dict(zip(fields, row, strict=True)) | {"time": _iso(row[5])} for row in rows]


def _series(conn: sqlite3.Connection, run_id: str) -> list[tuple[int, str]]:
    """The run's logged scalar series: ``(series id, metric name)``."""
    return conn.execute(
        "SELECT s.id, s.name FROM series s JOIN resources r ON r.id = s.resource_id"
        " WHERE r.run_id = ? AND s.scope_name = ? AND s.type IN ('gauge', 'sum')",
        (run_id, semconv.SCOPE_NAME),
    ).fetchall()


def _count(conn: sqlite3.Connection, run_id: str) -> int:
    return sum(count_points(conn, sid) for sid, _ in _series(conn, run_id))


def _points(
    conn: sqlite3.Connection, run_id: str, total: int, progress: Progress
) -> Iterator[tuple[str, int | None, int, float]]:
    """Every point as ``(name, step, time, value)``, by time and then name."""
    streams = [_stream(conn, sid, name) for sid, name in _series(conn, run_id)]
    done = 0
    progress(0, total)
    for point in heapq.merge(*streams, key=lambda p: (p[2], p[0])):
        yield point
        done += 1
        if done % _BATCH == 0:
            progress(done, total)
    progress(done, total)


def _stream(
    conn: sqlite3.Connection, sid: int, name: str
) -> Iterator[tuple[str, int | None, int, float]]:
    """The series' points a page at a time, so a long run never sits in memory whole."""
    after: int | None = None
    while True:
        page = read_points(conn, sid, from_time=after, limit=_BATCH * 10)
        yield from zip(repeat(name), page.steps, page.times, page.values)
        if len(page) < _BATCH * 10:
            return
        after = page.times[-1] + 1


def _write_whirr(
    directory: Path, document: dict[str, Any], points: Iterator[tuple[str, int | None, int, float]]
) -> list[Path]:
    meta = {
        "run_id": document["run_id"],
        "name": document["name"],
        "status": document["status"],
        "started_at": document["start_time"],
        "finished_at": document["end_time"],
        "duration_seconds": document["duration_s"],
        "tags": document["labels"] + [f"{k}:{v}" for k, v in document["tags"].items()],
        "config_file": "config.json",
        "summary": document["summary"],
        "experiment": document["experiment"],
        "host": document["host"],
    }
    if isinstance(document["git"], dict):
        meta["git_info"] = document["git"]  # whirr's key for commit, branch, dirty
    files = [directory / "meta.json", directory / "config.json", directory / "metrics.jsonl"]
    files[0].write_text(json.dumps(meta, indent=2) + "\n")
    files[1].write_text(json.dumps(_nest(document["params"]), indent=2) + "\n")
    with open(files[2], "w") as f:
        for index, row in enumerate(_rows_by_step(points)):
            f.write(json.dumps({"_idx": index, **row}) + "\n")
    return files


def _rows_by_step(
    points: Iterator[tuple[str, int | None, int, float]],
) -> Iterator[dict[str, Any]]:
    """One row per step (points without a step: one row per time), keys in log order."""
    row: dict[str, Any] = {}
    current: tuple[str, int | None] | None = None
    iso = _IsoCache()
    for key, step, time, value in points:
        group = ("step", step) if step is not None else ("time", time)
        if group != current or key in row:
            if row:
                yield row
            current = group
            row = {"_timestamp": iso(time)}
            if step is not None:
                row["step"] = step
        row[key] = value
    if row:
        yield row


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        target = nested
        for part in parts[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = target[part] = {}
            target = child
        target[parts[-1]] = value
    return nested


def _iso(time_ns: int | None) -> str | None:
    if not time_ns:
        return None
    moment = dt.datetime.fromtimestamp(time_ns / 1e9, tz=dt.timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
