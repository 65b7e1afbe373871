"""Write OTLP requests into the run store: idempotent, batched, one transaction each.

Point identity is (resource, scope, metric name, attribute set, time): a
re-sent request changes nothing, and several attribute sets of one metric at one
timestamp are all kept. A trainwire point's step comes from the ``ml.step``
point of the same resource and time, in the same request or an earlier one; a
step arriving later fills in points stored without one. New points are stored loose
and a series' older ones sealed into packed chunks as they accumulate (chunks.py); a
re-sent point already sealed is recognised and left out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from trainwire import semconv
from trainwire.anyvalue import attributes_to_dict
from trainwire.exporters.sqlite.distributions import distribution_rows
from trainwire.exporters.sqlite.identity import canonical_json, column_text, digest
from trainwire.exporters.sqlite.lease import take_lease
from trainwire.exporters.sqlite.rollups import flush, fold
from trainwire.exporters.sqlite.run_events import apply_event, event_row
from trainwire.exporters.sqlite.sealing import Sealer

__all__ = ["StoreWriter"]

_NUMBER_KINDS = ("gauge", "sum")
_INT64_MAX = 2**63 - 1
_TIME = itemgetter(1)  # of a point row (series_id, time, step, value)


class StoreWriter:
    """Writes requests into an open store connection; not thread-safe (one writer)."""

    def __init__(
        self, conn: sqlite3.Connection, *, lease_s: float = 0.0, sealing_cpu_share: float = 1.0
    ) -> None:
        self._conn = conn
        self._lease_s = lease_s  # > 0: this process owns the runs it writes (lease.py)
        self._resources: dict[bytes, tuple[int, str | None]] = {}
        self._series: dict[tuple[int, str, str, str], int] = {}
        self._stepped: set[int] = set()  # resources whose step-less points were looked for
        self._unstepped: set[int] = set()  # resources that since stored a point with no step
        self._rollups: list[tuple[Any, ...]] = []  # rollup rows of this request (rollups.py)
        self._sealer = Sealer(conn, cpu_share=sealing_cpu_share)

    def write_metrics(self, request: ExportMetricsServiceRequest) -> int:
        """Store every point of ``request``; return how many points were new."""
        new = 0
        with _Transaction(self):
            for rm in request.resource_metrics:
                resource_id, run_id = self._resource(rm.resource)
                times: list[int] = []
                new_before = new
                for sm in rm.scope_metrics:
                    own_scope = sm.scope.name == semconv.SCOPE_NAME
                    steps = _steps(sm.metrics) if own_scope else None
                    if steps:
                        self._store_steps(resource_id, steps)
                    for metric in sm.metrics:
                        if own_scope and metric.name == semconv.METRIC_STEP:
                            continue
                        new += self._store_metric(
                            resource_id, sm.scope.name, sm.scope.version, metric, steps, times
                        )
                if run_id is not None:
                    self._touch_run(run_id, times)
                    if new > new_before:
                        self._revive(run_id, _rank(rm.resource))
            flush(self._conn, self._rollups)
        return new

    def write_logs(self, request: ExportLogsServiceRequest) -> int:
        """Store each log record once, applying run events; return how many were new."""
        new = 0
        with _Transaction(self):
            for rl in request.resource_logs:
                resource_id, run_id = self._resource(rl.resource)
                rank = _rank(rl.resource)
                times: list[int] = []
                for sl in rl.scope_logs:
                    for record in sl.log_records:
                        row = event_row(resource_id, run_id, sl.scope.name, record)
                        times.append(row[4])
                        cursor = self._conn.execute(
                            "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?)", row
                        )
                        if cursor.rowcount == 1:
                            new += 1
                            if run_id is not None:
                                if row[3] != semconv.EVENT_RUN_END:
                                    self._revive(run_id, rank)
                                if row[3] == semconv.EVENT_RUN_START:
                                    self._sealer.forget()  # a resume may rewind points
                                apply_event(self._conn, run_id, rank, record, row)
                if run_id is not None:
                    self._touch_run(run_id, times)
        return new

    def write_traces(self, request: ExportTraceServiceRequest) -> int:
        """Store each span once, keyed by (trace id, span id); return how many were new."""
        new = 0
        with _Transaction(self):
            for rs in request.resource_spans:
                resource_id, run_id = self._resource(rs.resource)
                times: list[int] = []
                for ss in rs.scope_spans:
                    rows = [_span_row(resource_id, run_id, ss.scope, span) for span in ss.spans]
                    cursor = self._conn.executemany(
                        f"INSERT OR IGNORE INTO spans VALUES ({','.join('?' * 16)})", rows
                    )
                    new += max(cursor.rowcount, 0)
                    times.extend(t for row in rows for t in (row[9], row[10]))
                if run_id is not None:
                    self._touch_run(run_id, times)
        return new

    def _resource(self, resource: Resource) -> tuple[int, str | None]:
        key = resource.SerializeToString(deterministic=True)
        cached = self._resources.get(key)
        if cached is not None:
            return cached
        attributes = attributes_to_dict(resource.attributes)
        encoded = canonical_json(attributes)
        run_id = attributes.get(semconv.ML_RUN_ID)
        run_id = str(run_id) if run_id not in (None, "") else None
        rank = _int(attributes.get(semconv.ML_RUN_RANK), 0)
        self._conn.execute(
            "INSERT OR IGNORE INTO resources(fingerprint, run_id, rank, attributes)"
            " VALUES (?,?,?,?)",
            (digest(encoded), run_id, rank if run_id else None, encoded),
        )
        (resource_id,) = self._conn.execute(
            "SELECT id FROM resources WHERE fingerprint = ?", (digest(encoded),)
        ).fetchone()
        if run_id is not None:
            self._ensure_run(run_id, rank, attributes)
        self._resources[key] = (resource_id, run_id)
        return resource_id, run_id

    def _ensure_run(self, run_id: str, rank: int, attributes: dict[str, Any]) -> None:
        named = attributes.get(semconv.ML_EXPERIMENT_NAME)
        experiment = str(named or "default")
        group = column_text(attributes.get(semconv.ML_RUN_GROUP))
        world_size = max(1, _int(attributes.get(semconv.ML_RUN_WORLD_SIZE), 1))
        host = column_text(attributes.get(semconv.HOST_NAME))
        # A resource carrying only the run id (the collector's ml.artifact events) may come
        # first: the run's own resource then fills in what that one could not say.
        self._conn.execute(
            "INSERT INTO runs(run_id, name, experiment, group_name, world_size, host)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(run_id) DO UPDATE SET"
            " experiment = CASE WHEN ? THEN excluded.experiment ELSE runs.experiment END,"
            " group_name = coalesce(runs.group_name, excluded.group_name),"
            " world_size = max(runs.world_size, excluded.world_size),"
            " host = coalesce(runs.host, excluded.host)",
            (run_id, run_id, experiment, group, world_size, host, bool(named)),
        )
        self._conn.execute(
            "INSERT INTO run_ranks(run_id, rank, host, pid) VALUES (?,?,?,?)"
            " ON CONFLICT(run_id, rank) DO UPDATE SET host = coalesce(run_ranks.host,"
            " excluded.host), pid = coalesce(excluded.pid, run_ranks.pid)",
            (run_id, rank, host, _int(attributes.get(semconv.PROCESS_PID), None)),
        )
        if self._lease_s > 0:
            take_lease(self._conn, run_id, rank, self._lease_s)

    def _touch_run(self, run_id: str, times: list[int]) -> None:
        """Widen the run's start and last-seen times to cover ``times`` (zeros are unset)."""
        times = [t for t in times if t > 0]
        if not times:
            return
        first, last = min(times), max(times)
        self._conn.execute(
            "UPDATE runs SET last_seen = max(coalesce(last_seen, 0), ?),"
            " start_time = min(coalesce(start_time, ?), ?) WHERE run_id = ?",
            (last, first, first, run_id),
        )

    def _revive(self, run_id: str, rank: int) -> None:
        """New data from a rank marked crashed: it runs again (DESIGN.md: crashed is provisional).

        Only newly stored rows revive, so a replayed request cannot undo a later crash.
        """
        cursor = self._conn.execute(
            "UPDATE run_ranks SET status = ?, end_time = NULL, exit_code = NULL"
            " WHERE run_id = ? AND rank = ? AND status = ?",
            (semconv.STATUS_RUNNING, run_id, rank, semconv.STATUS_CRASHED),
        )
        if cursor.rowcount:
            self._conn.execute(
                "UPDATE runs SET status = ?, end_time = NULL, exit_code = NULL WHERE run_id = ?",
                (semconv.STATUS_RUNNING, run_id),
            )

    def _store_steps(self, resource_id: int, steps: dict[int, int]) -> None:
        rows = [(resource_id, t, s) for t, s in steps.items()]
        self._conn.executemany("INSERT OR IGNORE INTO steps VALUES (?,?,?)", rows)
        # Points that arrived before their step (split requests) get it now. That is rare
        # (the SDK sends both together) and costly, so only where such points may exist:
        # once per resource after a (re)start, then where a point was stored without one.
        if resource_id in self._stepped and resource_id not in self._unstepped:
            return
        self._stepped.add(resource_id)
        # Stays in _unstepped once a step-less point was stored: later steps may fill others.
        updates = [(s, t, resource_id, semconv.SCOPE_NAME) for t, s in steps.items()]
        for table in ("points", "distributions"):
            self._conn.executemany(
                f"UPDATE {table} SET step = ? WHERE step IS NULL AND time = ? AND series_id IN"
                " (SELECT id FROM series WHERE resource_id = ? AND scope_name = ?)",
                updates,
            )

    def _store_metric(
        self,
        resource_id: int,
        scope: str,
        scope_version: str,
        metric: Metric,
        steps: dict[int, int] | None,
        times: list[int],
    ) -> int:
        """Store one metric's points; append their times to ``times``; return how many were new."""
        kind = metric.WhichOneof("data")
        if kind is None:
            return 0
        rows: list[tuple[Any, ...]] = []
        if kind in _NUMBER_KINDS:
            rows = self._number_rows(resource_id, scope, scope_version, metric, kind, steps)
            rows, per_series = self._sealer.fresh(rows)
            cursor = self._conn.executemany("INSERT OR IGNORE INTO points VALUES (?,?,?,?)", rows)
            all_new = cursor.rowcount == len(rows)
            fold(self._conn, rows, all_new, self._rollups)
            self._sealer.added(per_series, all_new, scope == semconv.SCOPE_NAME)
        else:
            for point, count, total, low, high, data in distribution_rows(metric, kind):
                sid = self._series_id(resource_id, scope, scope_version, metric, kind, point)
                step = self._step(resource_id, point.time_unix_nano, steps)
                if step is None and steps is not None:
                    self._unstepped.add(resource_id)
                rows.append((sid, point.time_unix_nano, step, count, total, low, high, data))
            cursor = self._conn.executemany(
                "INSERT OR IGNORE INTO distributions VALUES (?,?,?,?,?,?,?,?)", rows
            )
        if rows:
            stored = list(map(_TIME, rows))
            times.append(min(stored))
            times.append(max(stored))
        return max(cursor.rowcount, 0)

    def _number_rows(
        self,
        resource_id: int,
        scope: str,
        version: str,
        metric: Metric,
        kind: str,
        steps: dict[int, int] | None,
    ) -> list[tuple[Any, ...]]:
        """Rows of a Gauge or Sum. This loop is the store's hot path: keep it flat."""
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        plain_sid: int | None = None  # the series of points without attributes
        for point in getattr(metric, kind).data_points:
            if point.attributes:
                sid = self._series_id(resource_id, scope, version, metric, kind, point)
            elif plain_sid is None:
                sid = plain_sid = self._series_id(resource_id, scope, version, metric, kind, point)
            else:
                sid = plain_sid
            t = point.time_unix_nano
            step = None
            if steps is not None:
                step = steps.get(t)
                if step is None:
                    step = self._step(resource_id, t, steps)
                    if step is None:
                        self._unstepped.add(resource_id)
            value: float | int | None = point.as_double
            if value == 0.0 and point.WhichOneof("value") == "as_int":
                value = point.as_int
            elif value != value:
                value = None  # NaN is stored as NULL
            append((sid, t, step, value))
        return rows

    def _step(self, resource_id: int, time: int, steps: dict[int, int] | None) -> int | None:
        if steps is None:
            return None  # plain OpenTelemetry metrics have no step
        step = steps.get(time)
        if step is None:
            found = self._conn.execute(
                "SELECT step FROM steps WHERE resource_id = ? AND time = ?", (resource_id, time)
            ).fetchone()
            step = found[0] if found else None
        return step

    def _series_id(
        self, resource_id: int, scope: str, version: str, metric: Metric, kind: str, point: Any
    ) -> int:
        attributes = (
            canonical_json(attributes_to_dict(point.attributes)) if point.attributes else "{}"
        )
        key = (resource_id, scope, metric.name, attributes)
        sid = self._series.get(key)
        if sid is not None:
            return sid
        attr_hash = digest(attributes)
        self._conn.execute(
            "INSERT OR IGNORE INTO series(resource_id, scope_name, scope_version, name, type, unit,"
            " attr_hash, attributes) VALUES (?,?,?,?,?,?,?,?)",
            (resource_id, scope, version, metric.name, kind, metric.unit, attr_hash, attributes),
        )
        (sid,) = self._conn.execute(
            "SELECT id FROM series WHERE resource_id=? AND scope_name=? AND name=? AND attr_hash=?",
            (resource_id, scope, metric.name, attr_hash),
        ).fetchone()
        self._series[key] = sid
        return int(sid)


def _steps(metrics: Iterable[Metric]) -> dict[int, int]:
    steps: dict[int, int] = {}
    for metric in metrics:
        if metric.name == semconv.METRIC_STEP and metric.WhichOneof("data") == "gauge":
            for point in metric.gauge.data_points:
                steps[point.time_unix_nano] = int(_number(point) or 0)
    return steps


def _number(point: NumberDataPoint) -> float | int | None:
    if point.WhichOneof("value") == "as_int":
        return point.as_int
    value = point.as_double
    return None if value != value else value  # NaN is stored as NULL


def _span_row(
    resource_id: int, run_id: str | None, scope: InstrumentationScope, span: Span
) -> tuple[Any, ...]:
    events = [
        {"time": e.time_unix_nano, "name": e.name, **_attrs(e.attributes)} for e in span.events
    ]
    links = [
        {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(), **_attrs(link.attributes)}
        for link in span.links
    ]
    return (
        span.trace_id.hex(),
        span.span_id.hex(),
        span.parent_span_id.hex(),
        resource_id,
        run_id,
        scope.name,
        scope.version,
        span.name,
        span.kind,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        span.status.code,
        span.status.message,
        canonical_json(attributes_to_dict(span.attributes)),
        canonical_json(events),
        canonical_json(links),
    )


def _attrs(attributes: Any) -> dict[str, Any]:
    return {"attributes": attributes_to_dict(attributes)} if attributes else {}


def _rank(resource: Resource) -> int:
    for kv in resource.attributes:
        if kv.key == semconv.ML_RUN_RANK:
            return int(_int(kv.value.int_value or kv.value.string_value, 0))
    return 0


def _int(value: Any, default: Any) -> Any:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if -_INT64_MAX <= number <= _INT64_MAX else default  # SQLite's range


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; on error, roll back and forget cached row ids."""

    def __init__(self, writer: StoreWriter) -> None:
        self._writer = writer

    def __enter__(self) -> None:
        self._writer._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self._writer._conn.execute("COMMIT")
                return
            except BaseException:  # a failed COMMIT (disk full, I/O) rolls back too
                self._forget()
                raise
        self._forget()

    def _forget(self) -> None:
        # Cached ids may name rows the rollback removed.
        self._writer._resources.clear()
        self._writer._series.clear()
        self._writer._stepped.clear()
        self._writer._rollups.clear()
        self._writer._sealer.forget()
        if self._writer._conn.in_transaction:
            self._writer._conn.execute("ROLLBACK")
