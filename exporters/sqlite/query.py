"""The run store's read API: what the HTTP query API serves and ``trainwire.Client`` returns.

Every public method returns a JSON-ready dict that is exactly the body of the
matching HTTP response, so a client reading the file and one calling the server
see the same data. Numbers that JSON cannot carry (NaN, +inf, -inf) are the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (as in protobuf's JSON
mapping); :func:`trainwire.exporters.sqlite.values.from_json_number` turns them back.

Shapes (times are integers, ns since the epoch; ``*_at`` the same as ISO 8601 UTC)::

    run = {"id", "name", "experiment", "group", "status", "start_time", "end_time",
           "started_at", "ended_at", "duration_s", "last_seen", "host", "world_size",
           "git" (dict or None), "exit_code", "exception" ({"type", "message"} or None),
           "tags" {key: value}, "labels" [str]}
    list_runs -> {"runs": [run], "total": int, "limit": int | None, "offset": int}
    get_run   -> run + {"params" {dotted.key: value}, "summary" {key: value},
                  "metrics" {key: {"last", "step", "time", "min", "max", "best", "goal",
                                   "count", "nan_count"}},
                  "ranks" [{"rank", "status", "host", "pid", "end_time", "exit_code"}],
                  "details" {argv, python, packages, ...}, "exception" + "stacktrace"}
    metrics   -> {"run_id", "metrics": [{"key", "attributes", "source" ("logged" | "system"),
                  "unit", "total", "downsampled", "step" [int|None], "time" [int],
                  "value" [number|str]}]}
    artifacts -> {"run_id", "artifacts": [{"name", "kind", "sha256", "size", "mime_type",
                  "time", "created_at"}]}     (latest version of each name)
    events    -> {"run_id", "events": [{"id", "name", "time", "severity", "severity_text",
                  "body", "attributes"}], "next_after": int | None}
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainwire import semconv
from trainwire.errors import ArtifactNotFoundError, InvalidQueryError, RunNotFoundError
from trainwire.exporters.sqlite.downsample import downsample, series_points
from trainwire.exporters.sqlite.filters import compile_filter, field_sql, parse_filter
from trainwire.exporters.sqlite.lease import dead_runs
from trainwire.exporters.sqlite.runs_json import STATUS_SQL, metric_summaries, run_dict
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.values import iso_time, json_number, jsonable

__all__ = ["RunQuery", "default_artifacts_dir"]

_RUN_SELECT = (
    f"SELECT r.run_id, coalesce(r.name, r.run_id), r.experiment, r.group_name, {STATUS_SQL},"
    " r.start_time, r.end_time, r.last_seen, r.host, r.world_size, r.exit_code,"
    " r.exception_type, r.exception_message, r.details FROM runs r"
)
_SORTABLE = (
    "id",
    "name",
    "experiment",
    "group",
    "status",
    "host",
    "start_time",
    "end_time",
    "duration_s",
    "world_size",
)
MAX_LIMIT = 10_000
MAX_EVENTS = 10_000


def default_artifacts_dir(db_path: str | Path) -> Path:
    """The embedded default's artifact store: ``trainwire-artifacts/`` beside the database."""
    return Path(db_path).resolve().parent / "trainwire-artifacts"


class RunQuery:
    """Read-only queries over one run store file; safe to share between threads."""

    def __init__(self, db_path: str | Path, *, artifacts_dir: str | Path | None = None) -> None:
        self.path = Path(db_path)
        if not self.path.exists():
            raise FileNotFoundError(
                f"no trainwire store at {self.path}; run a training script first,"
                " or pass --db PATH (or set TRAINWIRE_DB)"
            )
        self.artifacts_dir = Path(
            artifacts_dir if artifacts_dir is not None else default_artifacts_dir(self.path)
        )
        self._conn = connect(self.path)
        self._lock = threading.RLock()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RunQuery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs -------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """The id of the run ``ref`` names: an exact id, a unique id prefix, or a unique name.

        Raises:
            RunNotFoundError: nothing matches, or several runs do (the message lists them).
        """
        if not isinstance(ref, str) or not ref.strip():
            raise RunNotFoundError("give a run id, a prefix of one, or a run name")
        with self._lock:
            if self._conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (ref,)).fetchone():
                return ref
            queries = (
                ("SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ? LIMIT 6", (len(ref), ref)),
                ("SELECT run_id FROM runs WHERE name = ? LIMIT 6", (ref,)),
            )
            for sql, args in queries:
                rows = self._conn.execute(sql, args).fetchall()
                if len(rows) == 1:
                    return str(rows[0][0])
                if len(rows) > 1:
                    shown = ", ".join(r[0] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
                    raise RunNotFoundError(
                        f"'{ref}' matches several runs ({shown}); give more of the id"
                    )
        raise RunNotFoundError(
            f"no run matches '{ref}' in {self.path}; list them with `trainwire runs`"
        )

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        status: str | None = None,
        tag: str | None = None,
        label: str | None = None,
        where: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Runs matching every filter given, newest first unless ``sort`` says otherwise.

        ``tag`` is ``key=value`` (or ``key`` for any value); ``label`` a label the run
        has; ``where`` a filter expression (see :mod:`.filters`); ``sort`` a
        comma-separated list of fields (``-`` prefix for descending), e.g.
        ``-summary.val_acc,name``. Returns ``{"runs", "total", "limit", "offset"}``.
        """
        if status is not None and status not in semconv.RUN_STATUSES:
            raise InvalidQueryError(
                f"status {status!r} is not one of {', '.join(semconv.RUN_STATUSES)}"
            )
        if limit is not None and not 0 <= limit <= MAX_LIMIT:
            raise InvalidQueryError(f"limit must be between 0 and {MAX_LIMIT}, got {limit}")
        if offset < 0:
            raise InvalidQueryError(f"offset must be 0 or more, got {offset}")
        node = parse_filter(where) if where is not None else None
        with self._lock:
            self._refresh_dead()
            conditions: list[str] = []
            args: list[Any] = []
            if experiment is not None:
                conditions.append("r.experiment = ?")
                args.append(experiment)
            if status is not None:
                conditions.append(f"{STATUS_SQL} = ?")
                args.append(status)
            if tag is not None:
                key, has_value, value = tag.partition("=")
                if has_value:
                    conditions.append(
                        "EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.run_id AND t.key = ?"
                        " AND (t.value = ? OR t.value = ?))"
                    )
                    args.extend((key, json.dumps(value), value))
                else:
                    conditions.append(
                        "EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.run_id AND t.key = ?)"
                    )
                    args.append(key)
            if label is not None:
                conditions.append(
                    "EXISTS (SELECT 1 FROM labels l WHERE l.run_id = r.run_id"
                    " AND l.label = ? AND l.present)"
                )
                args.append(label)
            if node is not None:
                sql, filter_args = compile_filter(node, STATUS_SQL)
                conditions.append(sql)
                args.extend(filter_args)
            where_sql = (" WHERE " + " AND ".join(conditions)) if conditions else ""
            order_sql, order_args = _order(sort)
            (total,) = self._conn.execute(
                f"SELECT count(*) FROM runs r{where_sql}", args
            ).fetchone()
            sql = _RUN_SELECT + where_sql + order_sql
            all_args = [*args, *order_args]
            if limit is not None or offset:
                sql += " LIMIT ? OFFSET ?"
                all_args.extend((-1 if limit is None else limit, offset))
            rows = self._conn.execute(sql, all_args).fetchall()
            runs = [run_dict(row) for row in rows]
            self._attach_tags(runs)
        return {"runs": runs, "total": int(total), "limit": limit, "offset": offset}

    def brief(self, ref: str) -> dict[str, Any]:
        """One run as :meth:`list_runs` shows it (no params, summaries or ranks): cheap."""
        with self._lock:
            run_id = self.resolve(ref)
            self._refresh_dead()
            row = self._conn.execute(_RUN_SELECT + " WHERE r.run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(f"no run '{run_id}' in {self.path}")
            run = run_dict(row)
            self._attach_tags([run])
        return run

    def get_run(self, ref: str) -> dict[str, Any]:
        """One run with its params, summary, metric summaries, ranks and details."""
        with self._lock:
            run_id = self.resolve(ref)
            self._refresh_dead()
            row = self._conn.execute(_RUN_SELECT + " WHERE r.run_id = ?", (run_id,)).fetchone()
            if row is None:  # removed meanwhile
                raise RunNotFoundError(f"no run '{run_id}' in {self.path}")
            run = run_dict(row, full=True)
            self._attach_tags([run])
            run["params"] = jsonable(self._keyed("params", run_id))
            summaries = metric_summaries(self._conn, run_id)
            summary = {key: s["last"] for key, s in summaries.items()}
            summary.update(jsonable(self._keyed("summaries", run_id)))
            run["summary"] = dict(sorted(summary.items()))
            run["metrics"] = summaries
            run["ranks"] = [
                {
                    "rank": r[0],
                    "status": r[1],
                    "host": r[2],
                    "pid": r[3],
                    "end_time": r[4],
                    "exit_code": r[5],
                }
                for r in self._conn.execute(
                    "SELECT rank, status, host, pid, end_time, exit_code FROM run_ranks"
                    " WHERE run_id = ? ORDER BY rank",
                    (run_id,),
                )
            ]
            if run["status"] == semconv.STATUS_CRASHED:
                for rank in run["ranks"]:
                    if rank["status"] == semconv.STATUS_RUNNING:
                        rank["status"] = semconv.STATUS_CRASHED
        return run

    # -- metrics ----------------------------------------------------------------------

    def metrics(
        self,
        ref: str,
        *,
        key: str | None = None,
        from_step: int | None = None,
        to_step: int | None = None,
        max_points: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The run's scalar series (one metric with ``key``), in time order.

        ``from_step``/``to_step`` bound the steps (inclusive); ``max_points`` downsamples
        each series to about that many points keeping its shape (each bucket keeps its
        first, lowest, highest and last point); ``limit`` keeps the first points only.
        Returns ``{"run_id", "metrics": [series]}``; an unknown key gives an empty list.
        """
        for name, value in (("max_points", max_points), ("limit", limit)):
            if value is not None and value < 1:
                raise InvalidQueryError(f"{name} must be 1 or more, got {value}")
        if from_step is not None and to_step is not None and from_step > to_step:
            raise InvalidQueryError(f"from_step {from_step} is after to_step {to_step}")
        with self._lock:
            run_id = self.resolve(ref)
            sql = (
                "SELECT s.id, s.name, s.attributes, s.scope_name, s.unit FROM series s"
                " JOIN resources r ON r.id = s.resource_id"
                " WHERE r.run_id = ? AND s.type IN ('gauge', 'sum')"
            )
            args: list[Any] = [run_id]
            if key is not None:
                sql += " AND s.name = ?"
                args.append(key)
            out = []
            for sid, name, attributes, scope, unit in self._conn.execute(
                sql + " ORDER BY s.name, s.attributes, s.id", args
            ).fetchall():
                if max_points is not None and limit is None:
                    points = downsample(self._conn, sid, from_step, to_step, max_points)
                else:
                    points = series_points(self._conn, sid, from_step, to_step, limit)
                source = "logged" if scope == semconv.SCOPE_NAME else "system"
                out.append(
                    {
                        "key": name,
                        "attributes": json.loads(attributes),
                        "source": source,
                        "unit": unit,
                        **points,
                    }
                )
        return {"run_id": run_id, "metrics": out}

    # -- artifacts --------------------------------------------------------------------

    def artifacts(self, ref: str) -> dict[str, Any]:
        """The run's artifacts (the latest version of each name), by name."""
        with self._lock:
            run_id = self.resolve(ref)
            rows = self._conn.execute(
                "SELECT name, kind, sha256, size, mime_type, max(time) FROM artifacts"
                " WHERE run_id = ? GROUP BY name ORDER BY name",
                (run_id,),
            ).fetchall()
        return {"run_id": run_id, "artifacts": [_artifact(row) for row in rows]}

    def artifact(self, ref: str, name: str) -> tuple[dict[str, Any], Path]:
        """Metadata of the run's artifact ``name`` and the path of its blob.

        Raises:
            InvalidQueryError: the name tries to leave the run's namespace.
            ArtifactNotFoundError: the run has no such artifact, or its blob is missing.
        """
        from trainwire.exporters.sqlite.blobs import blob_path, check_name

        check_name(name)
        with self._lock:
            run_id = self.resolve(ref)
            row = self._conn.execute(
                "SELECT name, kind, sha256, size, mime_type, max(time) FROM artifacts"
                " WHERE run_id = ? AND name = ? GROUP BY name",
                (run_id, name),
            ).fetchone()
        if row is None:
            raise ArtifactNotFoundError(f"run {run_id} has no artifact {name!r}")
        meta = _artifact(row)
        meta["run_id"] = run_id
        path = blob_path(self.artifacts_dir, meta["sha256"])
        if not path.is_file():
            raise ArtifactNotFoundError(
                f"artifact {name!r} of run {run_id} is recorded but its blob {meta['sha256']}"
                f" is missing from {self.artifacts_dir}"
            )
        return meta, path

    def open_artifact(
        self, ref: str, name: str, *, chunk_bytes: int = 1024 * 1024
    ) -> tuple[dict[str, Any], Iterator[bytes]]:
        """Metadata and the bytes of an artifact in chunks, checked against its sha256.

        The iterator raises CorruptArtifactError after the last chunk if the bytes
        do not hash to the recorded digest (callers must not trust what they got).
        """
        from trainwire.exporters.sqlite.blobs import verified_chunks

        meta, path = self.artifact(ref, name)
        return meta, verified_chunks(path, meta["sha256"], chunk_bytes)

    def read_artifact(self, ref: str, name: str) -> bytes:
        """The whole artifact, checked against its sha256 (CorruptArtifactError if not)."""
        _, chunks = self.open_artifact(ref, name)
        return b"".join(chunks)

    # -- events -----------------------------------------------------------------------

    def events(
        self,
        ref: str,
        *,
        name: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The run's events in time order (console lines, alerts, run events).

        ``name`` keeps one kind (``ml.console``, ``ml.alert``, ...); ``after`` (ns)
        keeps those later than it; ``limit`` caps them (default and most: 10,000).
        ``next_after`` is the time to pass as ``after`` for the next page (None at the end);
        a page never splits the events of one time (it may be shorter than ``limit``).
        """
        limit = MAX_EVENTS if limit is None else limit
        if not 1 <= limit <= MAX_EVENTS:
            raise InvalidQueryError(f"limit must be between 1 and {MAX_EVENTS}, got {limit}")
        with self._lock:
            run_id = self.resolve(ref)
            sql = (
                "SELECT uid, name, time, severity_number, severity_text, body, attributes"
                " FROM events WHERE run_id = ?"
            )
            args: list[Any] = [run_id]
            if name is not None:
                sql += " AND name = ?"
                args.append(name)
            if after is not None:
                sql += " AND time > ?"
                args.append(after)
            rows = self._conn.execute(
                sql + " ORDER BY time, uid LIMIT ?", (*args, limit + 1)
            ).fetchall()
            more = len(rows) > limit
            if more:
                # Pages end between times, so `after` never skips events sharing one.
                cut = rows[limit][2]
                rows = [r for r in rows[:limit] if r[2] < cut]
                if not rows:  # one time holds more than a page: return all of it
                    rows = self._conn.execute(
                        sql + " AND time = ? ORDER BY uid", (*args, cut)
                    ).fetchall()
        events = [
            {
                "id": r[0],
                "name": r[1],
                "time": r[2],
                "severity": r[3],
                "severity_text": r[4],
                "body": jsonable(_loads(r[5])),
                "attributes": jsonable(_loads(r[6]) or {}),
            }
            for r in rows
        ]
        next_after = rows[-1][2] if more and rows else None
        return {"run_id": run_id, "events": events, "next_after": next_after}

    def updates(self, ref: str, *, after: int, limit: int = 5000) -> dict[str, Any]:
        """What landed for the run with a time later than ``after`` (ns): for live views.

        Returns ``{"run_id", "points": [{"key", "attributes", "step", "time", "value"}],
        "events": [event], "cursor"}``; pass ``cursor`` as the next ``after``. Points
        stored late with an earlier time than ``after`` are not seen again.
        """
        with self._lock:
            run_id = self.resolve(ref)
            points = self._conn.execute(
                "SELECT s.name, s.attributes, p.step, p.time, p.value FROM resources rs"
                " JOIN series s ON s.resource_id = rs.id JOIN points p ON p.series_id = s.id"
                " WHERE rs.run_id = ? AND s.type IN ('gauge', 'sum') AND p.time > ?"
                " ORDER BY p.time LIMIT ?",
                (run_id, after, limit),
            ).fetchall()
            events = self.events(run_id, after=after, limit=limit)["events"]
        cursor = max([after, *(p[3] for p in points), *(e["time"] for e in events)])
        # A full page may stop mid-time: keep only what is complete up to the cursor.
        if len(points) == limit:
            cursor = min(cursor, points[-1][3] - 1)
        if len(events) == limit:
            cursor = min(cursor, events[-1]["time"] - 1)
        if cursor <= after and (points or events):  # one time holds a whole page: move on
            cursor = max([*(p[3] for p in points), *(e["time"] for e in events)])
        return {
            "run_id": run_id,
            "points": [
                {
                    "key": p[0],
                    "attributes": json.loads(p[1]),
                    "step": p[2],
                    "time": p[3],
                    "value": json_number(math.nan if p[4] is None else p[4]),
                }
                for p in points
                if p[3] <= cursor
            ],
            "events": [e for e in events if e["time"] <= cursor],
            "cursor": cursor,
        }

    def data_version(self) -> int:
        """A number that changes whenever another connection commits to the store."""
        with self._lock:
            (version,) = self._conn.execute("PRAGMA data_version").fetchone()
            return int(version)

    # -- helpers ----------------------------------------------------------------------

    def _refresh_dead(self) -> None:
        """Fill ``temp.dead_runs`` (what STATUS_SQL reads) with the runs whose owner died."""
        dead = dead_runs(self._conn)
        self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS dead_runs (run_id TEXT PRIMARY KEY)")
        self._conn.execute("DELETE FROM temp.dead_runs")
        self._conn.executemany("INSERT INTO temp.dead_runs VALUES (?)", [(d,) for d in dead])

    def _keyed(self, table: str, run_id: str) -> dict[str, Any]:
        rows = self._conn.execute(
            f"SELECT key, value FROM {table} WHERE run_id = ? ORDER BY key", (run_id,)
        )
        return {key: _loads(value) for key, value in rows}

    def _attach_tags(self, runs: list[dict[str, Any]]) -> None:
        if not runs:
            return
        by_id = {run["id"]: run for run in runs}
        for run in runs:
            run["tags"], run["labels"] = {}, []
        ids = json.dumps(list(by_id))
        for run_id, key, value in self._conn.execute(
            "SELECT run_id, key, value FROM tags WHERE run_id IN (SELECT value FROM json_each(?))"
            " ORDER BY run_id, key",
            (ids,),
        ):
            by_id[run_id]["tags"][key] = jsonable(_loads(value))
        for run_id, label in self._conn.execute(
            "SELECT run_id, label FROM labels WHERE present AND run_id IN"
            " (SELECT value FROM json_each(?)) ORDER BY run_id, label",
            (ids,),
        ):
            by_id[run_id]["labels"].append(label)


def _order(sort: str | None) -> tuple[str, list[Any]]:
    if sort is None or not sort.strip():
        return " ORDER BY coalesce(r.start_time, 0) DESC, r.run_id", []
    terms: list[str] = []
    args: list[Any] = []
    for raw in sort.split(","):
        item = raw.strip()
        descending = item.startswith("-")
        item = item.lstrip("-+").strip()
        head, dot, key = item.partition(".")
        kind = _SORT_KEYED.get(head.lower())
        if kind is not None and key:
            field: tuple[str, ...] = (kind, key)
        elif head.lower() in _SORTABLE and not dot:
            field = (head.lower(),)
        else:
            raise InvalidQueryError(
                f"cannot sort by {item!r}; use {', '.join(_SORTABLE)},"
                " params.KEY, summary.KEY or tags.KEY (prefix '-' for descending)"
            )
        # NULLs (runs without the field) last in both directions.
        expression = field_sql(field, STATUS_SQL, args)
        field_sql(field, STATUS_SQL, args)
        terms.append(f"{expression} IS NULL, {expression} {'DESC' if descending else 'ASC'}")
    return " ORDER BY " + ", ".join(terms) + ", r.run_id", args


_SORT_KEYED = {
    "params": "params",
    "param": "params",
    "config": "params",
    "summary": "summary",
    "summaries": "summary",
    "tags": "tags",
    "tag": "tags",
}


def _artifact(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "name": row[0],
        "kind": row[1],
        "sha256": row[2],
        "size": row[3],
        "mime_type": row[4],
        "time": row[5],
        "created_at": iso_time(row[5]),
    }


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
