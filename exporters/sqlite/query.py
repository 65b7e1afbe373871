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
    histograms -> {"run_id", "histograms": [{"key", "attributes", "source", "unit", "type",
                  "total", "points": [{"step", "time", "count", "sum", "min", "max", ...}]}]}
    artifacts -> {"run_id", "artifacts": [{"name", "kind", "sha256", "size", "mime_type",
                  "time", "created_at"}]}     (latest version of each name)
    events    -> {"run_id", "events": [{"id", "name", "time", "severity", "severity_text",
                  "body", "attributes"}], "next_after": int | None}
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trainwire import semconv
from trainwire.errors import ArtifactNotFoundError, InvalidQueryError, RunNotFoundError
from trainwire.exporters.sqlite import run_list, timeline
from trainwire.exporters.sqlite.downsample import downsample, series_points
from trainwire.exporters.sqlite.run_list import RUN_SELECT, attach_tags, refresh_dead
from trainwire.exporters.sqlite.runref import resolve_run
from trainwire.exporters.sqlite.runs_json import metric_summaries, run_dict
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.values import iso_time, jsonable, loads

__all__ = ["RunQuery", "default_artifacts_dir"]


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
        with self._lock:
            return resolve_run(self._conn, ref, self.path)

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
        with self._lock:
            return run_list.list_runs(
                self._conn,
                experiment=experiment,
                status=status,
                tag=tag,
                label=label,
                where=where,
                sort=sort,
                limit=limit,
                offset=offset,
            )

    def brief(self, ref: str) -> dict[str, Any]:
        """One run as :meth:`list_runs` shows it (no params, summaries or ranks): cheap."""
        with self._lock:
            run_id = self.resolve(ref)
            refresh_dead(self._conn)
            row = self._conn.execute(RUN_SELECT + " WHERE r.run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(f"no run '{run_id}' in {self.path}")
            run = run_dict(row)
            attach_tags(self._conn, [run])
        return run

    def get_run(self, ref: str) -> dict[str, Any]:
        """One run with its params, summary, metric summaries, ranks and details."""
        with self._lock:
            run_id = self.resolve(ref)
            refresh_dead(self._conn)
            row = self._conn.execute(RUN_SELECT + " WHERE r.run_id = ?", (run_id,)).fetchone()
            if row is None:  # removed meanwhile
                raise RunNotFoundError(f"no run '{run_id}' in {self.path}")
            run = run_dict(row, full=True)
            attach_tags(self._conn, [run])
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

    def histograms(
        self,
        ref: str,
        *,
        key: str | None = None,
        from_step: int | None = None,
        to_step: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The run's distributions (``log_histogram``, OTel histograms and summaries).

        Returns ``{"run_id", "histograms": [series]}`` (see
        :mod:`~trainwire.exporters.sqlite.histograms`); an unknown key gives an empty list.
        """
        from trainwire.exporters.sqlite.histograms import histogram_series

        if limit is not None and limit < 1:
            raise InvalidQueryError(f"limit must be 1 or more, got {limit}")
        if from_step is not None and to_step is not None and from_step > to_step:
            raise InvalidQueryError(f"from_step {from_step} is after to_step {to_step}")
        with self._lock:
            run_id = self.resolve(ref)
            series = histogram_series(
                self._conn, run_id, key=key, from_step=from_step, to_step=to_step, limit=limit
            )
        return {"run_id": run_id, "histograms": series}

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
        with self._lock:
            run_id = self.resolve(ref)
            return timeline.events(self._conn, run_id, name=name, after=after, limit=limit)

    def updates(self, ref: str, *, after: int, limit: int = 5000) -> dict[str, Any]:
        """What landed for the run with a time later than ``after`` (ns): for live views.

        Returns ``{"run_id", "points": [{"key", "attributes", "step", "time", "value"}],
        "events": [event], "cursor"}``; pass ``cursor`` as the next ``after``. Points
        stored late with an earlier time than ``after`` are not seen again.
        """
        with self._lock:
            run_id = self.resolve(ref)
            return timeline.updates(self._conn, run_id, after=after, limit=limit)

    def data_version(self) -> int:
        """A number that changes whenever another connection commits to the store."""
        with self._lock:
            (version,) = self._conn.execute("PRAGMA data_version").fetchone()
            return int(version)

    # -- helpers ----------------------------------------------------------------------

    def _keyed(self, table: str, run_id: str) -> dict[str, Any]:
        rows = self._conn.execute(
            f"SELECT key, value FROM {table} WHERE run_id = ? ORDER BY key", (run_id,)
        )
        return {key: loads(value) for key, value in rows}


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
