"""Sealed point chunks (chunks.py) as a user sees them: every query answers as if each
point were a row, through the real StoreWriter, real store files and RunQuery."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire import semconv
from trainwire.exporters.sqlite.chunks import CHUNK_POINTS, unseal
from trainwire.exporters.sqlite.query import RunQuery
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter

T0 = 1_700_000_000_000_000_000
SPACING = 10_000_000  # 10 ms between log() calls
RUN = "a1b2c3d4e5f6"
SPECIAL = {10: math.nan, 1500: math.inf, 3000: -math.inf, 4000: math.nan}


def value_at(step: int) -> float:
    """Distinct values with a shape (no ties, so min/max per bucket are unambiguous)."""
    return SPECIAL.get(step, math.sin(step / 40) + step * 1e-6)


def as_json(value: float) -> Any:
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def log_requests(
    wire: Any, steps: range, *, start: int = T0, value: Any = value_at, per_request: int = 500
) -> list[ExportMetricsServiceRequest]:
    """``run.log({"loss": ...})`` at each step, ``SPACING`` apart from ``start``."""
    resource = wire.resource(RUN)
    calls = [(start + i * SPACING, step, {"loss": value(step)}) for i, step in enumerate(steps)]
    return [
        wire.log(resource, *calls[at : at + per_request])
        for at in range(0, len(calls), per_request)
    ]


def write(path: Path, requests: list[ExportMetricsServiceRequest]) -> int:
    """Write the requests through a StoreWriter on its own connection; return new points."""
    conn = connect(path)
    writer = StoreWriter(conn)
    new = sum(writer.write_metrics(request) for request in requests)
    conn.close()
    return new


def layout(path: Path, name: str = "loss") -> tuple[int, int, int]:
    """``(chunks, sealed points, loose points)`` of the series ``name``."""
    conn = sqlite3.connect(path)
    (sid,) = conn.execute("SELECT id FROM series WHERE name = ?", (name,)).fetchone()
    chunks, sealed = conn.execute(
        "SELECT count(*), coalesce(sum(count), 0) FROM point_chunks WHERE series_id = ?", (sid,)
    ).fetchone()
    (loose,) = conn.execute("SELECT count(*) FROM points WHERE series_id = ?", (sid,)).fetchone()
    conn.close()
    return chunks, sealed, loose


def sealed_store(tmp_path: Path, wire: Any) -> Path:
    """A store holding 5,000 steps of ``loss``, several chunks of them sealed."""
    path = tmp_path / "store.db"
    write(path, log_requests(wire, range(5_000)))
    assert layout(path)[0] >= 2
    return path


def loss(path: Path, **query: Any) -> dict[str, Any]:
    with RunQuery(path) as runs:
        (series,) = runs.metrics(RUN, key="loss", **query)["metrics"]
    return series


def answers(path: Path) -> str:
    """What a user reads of the run, as one comparable text (NaN spelled out)."""
    with RunQuery(path) as runs:
        run = runs.get_run(RUN)
        out = {
            "all": runs.metrics(RUN),
            "down": runs.metrics(RUN, key="loss", max_points=100),
            "scan": runs.metrics(RUN, key="loss", from_step=900, to_step=4100, max_points=60),
            "page": runs.metrics(RUN, key="loss", limit=7),
            "summary": run["summary"],
            "metric_summaries": run["metrics"],
            "filtered": runs.list_runs(where="summary.loss > 0")["total"],
        }
    return json.dumps(out, sort_keys=True)


def test_5000_steps_read_back_exactly_while_older_points_are_sealed(
    tmp_path: Path, wire: Any
) -> None:
    """Every (step, time, value) comes back in order, NaN/±inf spelled out; the store sealed."""
    path = tmp_path / "store.db"
    assert write(path, log_requests(wire, range(5_000))) == 5_000

    series = loss(path)
    assert series["total"] == 5_000 and not series["downsampled"]
    assert series["step"] == list(range(5_000))
    assert series["time"] == [T0 + i * SPACING for i in range(5_000)]
    assert series["value"] == [as_json(value_at(i)) for i in range(5_000)]
    assert [series["value"][s] for s in sorted(SPECIAL)] == ["NaN", "Infinity", "-Infinity", "NaN"]
    chunks, sealed, loose = layout(path)
    assert chunks >= 2 and sealed == chunks * CHUNK_POINTS
    assert loose < 2 * CHUNK_POINTS and sealed + loose == 5_000


def test_replaying_every_request_changes_nothing(tmp_path: Path, wire: Any) -> None:
    """A collector that re-sends everything (same writer, then a restarted one) adds nothing."""
    path = tmp_path / "store.db"
    requests = log_requests(wire, range(5_000))
    write(path, requests)
    before, shape = answers(path), layout(path)

    conn = connect(path)
    writer = StoreWriter(conn)
    assert [writer.write_metrics(r) for r in requests] == [0] * len(requests)
    assert [writer.write_metrics(r) for r in reversed(requests)] == [0] * len(requests)
    conn.close()
    assert write(path, requests) == 0

    assert layout(path) == shape
    assert answers(path) == before
    down = loss(path, max_points=100)
    assert down["downsampled"] and down["total"] == 5_000


def test_late_point_is_served_in_time_order_and_late_duplicate_is_ignored(
    tmp_path: Path, wire: Any
) -> None:
    """A point older than sealed ones lands in its place; a re-sent sealed time keeps its value."""
    path = sealed_store(tmp_path, wire)
    resource = wire.resource(RUN)
    late_time = T0 + 100 * SPACING + SPACING // 2  # between steps 100 and 101, long sealed
    duplicate = wire.log(resource, (T0 + 200 * SPACING, 200, {"loss": 50.0}))

    assert write(path, [wire.log(resource, (late_time, 100, {"loss": 42.0}))]) == 1
    assert write(path, [duplicate]) == 0

    series = loss(path)
    assert series["total"] == 5_001
    assert series["time"] == sorted(series["time"])
    assert series["time"][101] == late_time and series["value"][101] == 42.0
    assert series["step"][:103] == [*range(101), 100, 101]
    assert series["value"][201] == value_at(200)  # not the duplicate's 50.0
    with RunQuery(path) as runs:
        summary = runs.get_run(RUN)["metrics"]["loss"]
        assert summary["max"] == "Infinity" and summary["count"] == 5_001
        down = runs.metrics(RUN, key="loss", max_points=100)["metrics"][0]
    assert 42.0 in down["value"] and 50.0 not in down["value"]


def by_hand(rows: list[tuple[int, int, float]], max_points: int) -> set[tuple[int, int, Any]]:
    """First, last, lowest, highest and first NaN of each of ``max_points // 4`` time buckets."""
    first, last = rows[0][1], rows[-1][1]
    width = (last - first) // (max_points // 4) + 1
    buckets: dict[int, list[tuple[int, int, float]]] = {}
    for row in rows:
        buckets.setdefault((row[1] - first) // width, []).append(row)
    keep = set()
    for part in buckets.values():
        picked = [part[0], part[-1]]
        numbers = [r for r in part if r[2] == r[2]]
        picked += [min(numbers, key=lambda r: r[2]), max(numbers, key=lambda r: r[2])]
        picked += [r for r in part if r[2] != r[2]][:1]
        keep.update((s, t, as_json(v)) for s, t, v in picked)
    return keep


def test_step_range_with_max_points_keeps_the_shape_of_sealed_points(
    tmp_path: Path, wire: Any
) -> None:
    """from_step/to_step with max_points over sealed points: each bucket's first/last/min/max."""
    path = sealed_store(tmp_path, wire)
    rows = [(s, T0 + s * SPACING, value_at(s)) for s in range(900, 4_101)]

    series = loss(path, from_step=900, to_step=4_100, max_points=100)

    assert series["downsampled"] and series["total"] == len(rows) == 3_201
    got = list(zip(series["step"], series["time"], series["value"], strict=True))
    assert got == sorted(got, key=lambda p: p[1])
    assert set(got) == by_hand(rows, 100)
    assert {"NaN", "Infinity", "-Infinity"} <= set(series["value"])

    page = loss(path, from_step=900, to_step=4_100, limit=10)
    assert page["total"] == 3_201 and page["step"] == list(range(900, 910))
    head = loss(path, limit=3)
    assert head["total"] == 5_000 and head["value"] == [as_json(value_at(s)) for s in range(3)]


@pytest.mark.parametrize("points_first", [False, True])
def test_rewind_over_sealed_points_sets_aside_the_later_ones(
    tmp_path: Path, wire: Any, points_first: bool
) -> None:
    """resume_from=2500 after 5,000 sealed steps: 2501.. of attempt 1 are gone everywhere,
    also when the new attempt's points (sealed with the old ones) beat its start event."""
    path = tmp_path / "store.db"
    write(path, log_requests(wire, range(5_000)))
    assert layout(path)[0] >= 3  # steps up to 3071 are sealed, 2501.. among them
    restart = T0 + 6_000 * SPACING
    start = wire.events(
        wire.resource(RUN),
        (restart, semconv.EVENT_RUN_START, {"resumed": True, "resume_from": 2_500}),
    )
    again = log_requests(wire, range(2_501, 4_501), start=restart + SPACING, value=lambda s: -s)
    conn = connect(path)
    writer = StoreWriter(conn)
    if points_first:
        assert sum(writer.write_metrics(r) for r in again) == 2_000
        writer.write_logs(start)
    else:
        writer.write_logs(start)
        assert sum(writer.write_metrics(r) for r in again) == 2_000
    assert sum(writer.write_metrics(r) for r in again) == 0  # a re-send after the rewind
    # The first attempt's requests again (a spool replayed late): the set-aside points
    # stay set aside.
    assert sum(writer.write_metrics(r) for r in log_requests(wire, range(5_000))) == 0
    conn.close()

    kept = [(s, T0 + s * SPACING, as_json(value_at(s))) for s in range(2_501)]
    new = [(s, restart + (s - 2_500) * SPACING, float(-s)) for s in range(2_501, 4_501)]
    series = loss(path)
    assert list(zip(series["step"], series["time"], series["value"], strict=True)) == kept + new
    with RunQuery(path) as runs:
        summary = runs.get_run(RUN)["metrics"]["loss"]
        down = runs.metrics(RUN, key="loss", max_points=100)["metrics"][0]
    assert summary["count"] == 4_501 and summary["last"] == -4_500.0
    assert summary["min"] == -4_500.0 and summary["max"] == "Infinity"
    assert down["downsampled"] and down["total"] == 4_501
    served = {(s, t, v) for s, t, v in kept + new}
    assert set(zip(down["step"], down["time"], down["value"], strict=True)) <= served
    assert -4_500.0 in down["value"] and "Infinity" in down["value"]
    (aside,) = sqlite3.connect(path).execute("SELECT count(*) FROM superseded_points").fetchone()
    assert aside == 5_000 - 2_501


def test_schema_5_store_is_sealed_on_open_and_answers_the_same(tmp_path: Path, wire: Any) -> None:
    """A store schema 5 wrote (all points loose) seals on open; every query answers the same."""
    path = tmp_path / "store.db"
    write(path, log_requests(wire, range(5_000)))
    before = answers(path)
    # Turn it into what trainwire at schema 5 left: the same rows, every point loose.
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("BEGIN")
    for (sid,) in raw.execute("SELECT DISTINCT series_id FROM point_chunks").fetchall():
        unseal(raw, sid)
    raw.execute("DROP TRIGGER series_chunks_gone")
    raw.execute("DROP TABLE point_chunks")
    raw.execute("PRAGMA user_version=5")
    raw.execute("COMMIT")
    assert raw.execute("SELECT count(*) FROM points").fetchone()[0] == 5_000
    raw.close()

    connect(path).close()

    chunks, sealed, loose = layout(path)
    assert chunks >= 2 and sealed + loose == 5_000 and loose < 2 * CHUNK_POINTS
    assert answers(path) == before
