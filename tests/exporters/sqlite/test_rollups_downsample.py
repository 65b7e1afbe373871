"""Rollups kept by the writer, and downsampling from them, on real store files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainwire.exporters.sqlite.downsample import _scan, downsample
from trainwire.exporters.sqlite.query import RunQuery
from trainwire.exporters.sqlite.rollups import rebuild_all
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter

T0 = 1_700_000_000_000_000_000
ROLLUP_COLUMNS = "series_id, shift, block, count, nan_count, first_time, first_step, first_value," \
    " last_time, last_step, last_value, min_value, max_value, nan_time"  # fmt: skip


def _rollups(conn: Any) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT {ROLLUP_COLUMNS} FROM point_rollups ORDER BY series_id, shift, block"
    ).fetchall()


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-1000, max_value=1000).map(float),
)
batches = st.lists(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=2_000_000), values), min_size=1, max_size=30
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=batches, resend=st.booleans())
def test_rollups_folded_batch_by_batch_equal_a_rebuild_from_the_points(
    tmp_path_factory: Any, wire: Any, batches: list[list[tuple[int, float]]], resend: bool
) -> None:
    """Out-of-order batches, re-sent batches, NaN and ±inf: the writer's rollups match a rebuild."""
    path = tmp_path_factory.mktemp("rollups") / "store.db"
    conn = connect(path)
    writer = StoreWriter(conn)
    resource = wire.resource("r1")
    for batch in batches:
        calls = [(T0 + ms * 100_000_000 // 1000, ms, {"loss": v}) for ms, v in batch]
        request = wire.log(resource, *_unique_times(calls))
        writer.write_metrics(request)
        if resend:
            writer.write_metrics(request)
    folded = _rollups(conn)
    conn.execute("BEGIN")
    rebuild_all(conn)
    conn.execute("COMMIT")
    assert _same(folded, _rollups(conn))
    conn.close()


def _unique_times(calls: list[tuple[int, int, dict[str, float]]]) -> list[Any]:
    seen: dict[int, Any] = {}
    for call in calls:
        seen.setdefault(call[0], call)
    return list(seen.values())


def _same(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    def norm(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [tuple("nan" if isinstance(v, float) and v != v else v for v in r) for r in rows]

    return norm(a) == norm(b)


def _store(tmp_path: Path, wire: Any, values: list[float], spacing_ns: int) -> Path:
    path = tmp_path / "store.db"
    conn = connect(path)
    writer = StoreWriter(conn)
    resource = wire.resource("r1")
    for start in range(0, len(values), 500):
        calls = [
            (T0 + i * spacing_ns, i, {"loss": values[i]})
            for i in range(start, min(len(values), start + 500))
        ]
        writer.write_metrics(wire.log(resource, *calls))
    conn.close()
    return path


def test_downsampling_from_rollups_keeps_every_extreme_and_nan(tmp_path: Path, wire: Any) -> None:
    """20,000 points 10 ms apart → ≤ 1,000 points keeping the global min, max, NaN and ends."""
    values = [math.sin(i / 300) + (i % 7) * 0.01 for i in range(20_000)]
    values[1234], values[15_000], values[9_999] = -50.0, 80.0, math.nan
    values[5_000] = math.inf
    path = _store(tmp_path, wire, values, 10_000_000)
    with RunQuery(path) as query:
        (series,) = query.metrics("r1", key="loss", max_points=1000)["metrics"]
    assert series["downsampled"] and series["total"] == 20_000
    assert len(series["value"]) <= 1000
    by_step = dict(zip(series["step"], series["value"], strict=True))
    assert by_step[1234] == -50.0 and by_step[9_999] == "NaN" and by_step[5_000] == "Infinity"
    assert series["step"][0] == 0 and series["step"][-1] == 19_999
    assert series["time"] == sorted(series["time"])


def test_rollup_downsampling_agrees_with_a_scan_of_the_points(tmp_path: Path, wire: Any) -> None:
    """The rollup path picks the same extremes per bucket as the scan of the raw points."""
    values = [((i * 7919) % 1000) / 10 for i in range(8_000)]
    path = _store(tmp_path, wire, values, 50_000_000)
    conn = connect(path)
    (sid,) = conn.execute("SELECT id FROM series WHERE name = 'loss'").fetchone()
    fast = downsample(conn, sid, None, None, 400)
    slow = _scan(conn, sid, None, None, 400)
    assert fast["total"] == slow["total"] == 8_000
    assert min(fast["value"]) == min(slow["value"]) == min(values)
    assert max(fast["value"]) == max(slow["value"]) == max(values)
    # Every point kept is a real one. Rollup blocks go whole to the bucket they start in,
    # so near bucket edges a block's extreme may count for its neighbour: few differ.
    real = {(i, T0 + i * 50_000_000, v) for i, v in enumerate(values)}
    assert set(zip(fast["step"], fast["time"], fast["value"], strict=True)) <= real
    assert len(set(fast["step"]) ^ set(slow["step"])) <= 0.2 * len(slow["step"])
    conn.close()


def test_rewind_recomputes_the_rollups_of_the_series_it_moved(tmp_path: Path, wire: Any) -> None:
    """After resume_from, the set-aside points no longer count in min/max or totals."""
    path = _store(tmp_path, wire, [float(i) for i in range(100)], 1_000_000_000)
    conn = connect(path)
    writer = StoreWriter(conn)
    resource = wire.resource("r1")
    later = T0 + 200 * 1_000_000_000
    writer.write_logs(
        wire.events(resource, (later, "ml.run.start", {"resumed": True, "resume_from": 49}))
    )
    conn.close()
    with RunQuery(path) as query:
        loss = query.get_run("r1")["metrics"]["loss"]
    assert loss["count"] == 50 and loss["max"] == 49.0 and loss["last"] == 49.0
