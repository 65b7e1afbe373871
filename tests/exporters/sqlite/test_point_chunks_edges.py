"""Sealed point chunks at the edges: late steps, run removal, live updates, export, plain
OpenTelemetry series (see test_point_chunks.py for the main reads)."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from trainwire.exporters.sqlite import StoreReader
from trainwire.exporters.sqlite.chunks import CHUNK_POINTS
from trainwire.exporters.sqlite.export import export_run
from trainwire.exporters.sqlite.maintenance import remove_run
from trainwire.exporters.sqlite.query import RunQuery
from trainwire.exporters.sqlite.schema import connect

from .test_point_chunks import (
    RUN,
    SPACING,
    T0,
    as_json,
    layout,
    log_requests,
    sealed_store,
    value_at,
    write,
)


def test_points_whose_step_comes_later_get_it_after_thousands_of_points(
    tmp_path: Path, wire: Any
) -> None:
    """Split requests: step-less points stay loose until their ml.step lands, even mid-series."""
    path = tmp_path / "store.db"
    resource = wire.resource(RUN)
    early = [T0 + i * SPACING for i in range(10)]  # before every stepped point
    middle = [T0 + k * SPACING + SPACING // 2 for k in (100, 1_500, 2_500)]  # between them
    write(path, [wire.values_only(resource, *[(t, {"loss": -1.0}) for t in early + middle])])
    write(path, log_requests(wire, range(10, 5_000), start=T0 + 10 * SPACING))
    assert layout(path)[0] >= 2
    with RunQuery(path) as runs:
        (waiting,) = runs.metrics(RUN, key="loss")["metrics"]
    assert waiting["total"] == 5_003 and waiting["step"].count(None) == 13

    late_steps = [
        *((t, i) for i, t in enumerate(early)),
        *zip(middle, (100, 1_500, 2_500), strict=True),
    ]
    write(path, [wire.step_only(resource, *late_steps)])
    # Enough more that the once step-less points get sealed too.
    write(path, log_requests(wire, range(5_000, 9_000), start=T0 + 5_000 * SPACING))

    with RunQuery(path) as runs:
        (series,) = runs.metrics(RUN, key="loss")["metrics"]
        (band,) = runs.metrics(RUN, key="loss", from_step=1_500, to_step=1_500)["metrics"]
    assert series["total"] == 9_003 and None not in series["step"]
    assert series["time"] == sorted(series["time"])
    assert series["step"][:10] == list(range(10)) and series["value"][:10] == [-1.0] * 10
    at = series["time"].index(middle[1])
    assert series["step"][at - 1 : at + 2] == [1_500, 1_500, 1_501]
    assert band["time"] == [T0 + 1_500 * SPACING, middle[1]]
    chunks, sealed, loose = layout(path)
    assert sealed + loose == 9_003 and loose < 2 * CHUNK_POINTS
    resend = [wire.values_only(resource, *[(t, {"loss": -1.0}) for t in early + middle])]
    assert write(path, resend) == 0


def test_removing_a_run_leaves_none_of_its_chunks(tmp_path: Path, wire: Any) -> None:
    """`trainwire rm`: the run's sealed points go with it; another run's stay readable."""
    path = tmp_path / "store.db"
    other = wire.resource("keepme")
    write(path, log_requests(wire, range(5_000)))
    calls = [(T0 + i * SPACING, i, {"acc": i / 10}) for i in range(5_000)]
    write(path, [wire.log(other, *calls[at : at + 1_000]) for at in range(0, 5_000, 1_000)])
    conn = connect(path)
    (before,) = conn.execute("SELECT count(*) FROM point_chunks").fetchone()

    removed = remove_run(conn, RUN)

    assert removed.rows > 0
    orphans = conn.execute(
        "SELECT count(*) FROM point_chunks WHERE series_id NOT IN (SELECT id FROM series)"
    ).fetchone()[0]
    (after,) = conn.execute("SELECT count(*) FROM point_chunks").fetchone()
    conn.close()
    assert orphans == 0 and 0 < after < before
    with RunQuery(path) as runs:
        (acc,) = runs.metrics("keepme", key="acc")["metrics"]
        assert [r["id"] for r in runs.list_runs()["runs"]] == ["keepme"]
    assert acc["value"] == [i / 10 for i in range(5_000)]


def test_live_updates_from_an_old_cursor_page_through_sealed_points(
    tmp_path: Path, wire: Any
) -> None:
    """A live view behind the sealed points gets every point once, in order, page by page."""
    path = sealed_store(tmp_path, wire)
    got: list[tuple[int, int, Any]] = []
    with RunQuery(path) as runs:
        cursor, pages = T0 - 1, 0
        while (page := runs.updates(RUN, after=cursor, limit=700))["points"]:
            got += [(p["step"], p["time"], p["value"]) for p in page["points"]]
            cursor = page["cursor"]
            pages += 1
        mid = runs.updates(RUN, after=T0 + 1_234 * SPACING, limit=10)
        following = runs.updates(RUN, after=mid["cursor"], limit=3)
    assert pages >= 5
    assert got == [(s, T0 + s * SPACING, as_json(value_at(s))) for s in range(5_000)]
    # A full page may stop mid-time, so it holds back its last time for the next one.
    assert [p["step"] for p in mid["points"]] == list(range(1_235, 1_244))
    assert [p["step"] for p in following["points"]] == [1_244, 1_245]


def test_export_writes_every_sealed_point_once_in_time_order(tmp_path: Path, wire: Any) -> None:
    """metrics.jsonl of a run with sealed points: each point once, by time then key."""
    path = tmp_path / "store.db"
    resource = wire.resource(RUN)
    calls = [(T0 + s * SPACING, s, {"loss": value_at(s), "acc": s / 100}) for s in range(5_000)]
    write(path, [wire.log(resource, *calls[at : at + 500]) for at in range(0, 5_000, 500)])
    assert layout(path, "acc")[0] >= 2 and layout(path, "loss")[0] >= 2
    conn = connect(path)
    with StoreReader(path) as store:
        files = export_run(store, conn, RUN, tmp_path / "out", format="jsonl")
    conn.close()

    lines = (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()
    assert files[1].name == "metrics.jsonl" and len(lines) == 10_000
    rows = [json.loads(line) for line in lines]
    assert [(r["key"], r["step"]) for r in rows] == [
        (key, s) for s in range(5_000) for key in ("acc", "loss")
    ]
    times = [r["time"] for r in rows]
    assert times == sorted(times) and len(set(times)) == 5_000
    losses = [r["value"] for r in rows if r["key"] == "loss"]
    assert [as_json(v) if isinstance(v, float) and not math.isfinite(v) else v for v in losses] == [
        as_json(value_at(s)) for s in range(5_000)
    ]


@pytest.mark.parametrize("attributes", [{}, {"gpu": 0}])
def test_plain_opentelemetry_series_are_sealed_and_read_without_steps(
    tmp_path: Path, wire: Any, attributes: dict[str, Any]
) -> None:
    """A gauge of another scope (no ml.step) is sealed as it comes and reads back step None."""
    path = tmp_path / "store.db"
    resource = wire.resource(RUN)
    points = [(T0 + i * SPACING, (i % 101) / 100, attributes) for i in range(5_000)]
    write(
        path,
        [
            wire.gauge(resource, "gpu.utilization", points[at : at + 400])
            for at in range(0, 5_000, 400)
        ],
    )
    chunks, sealed, loose = layout(path, "gpu.utilization")
    assert chunks >= 2 and sealed + loose == 5_000 and loose < 2 * CHUNK_POINTS

    with RunQuery(path) as runs:
        (series,) = runs.metrics(RUN, key="gpu.utilization")["metrics"]
        (down,) = runs.metrics(RUN, key="gpu.utilization", max_points=100)["metrics"]
    assert series["source"] == "system" and series["attributes"] == attributes
    assert series["step"] == [None] * 5_000
    assert list(zip(series["time"], series["value"], strict=True)) == [p[:2] for p in points]
    assert down["downsampled"] and set(down["step"]) == {None}
    assert min(down["value"]) == 0.0 and max(down["value"]) == 1.0
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM points WHERE step IS NOT NULL").fetchone()[0] == 0
    raw.close()
