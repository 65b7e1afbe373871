"""A store written by an older schema opens in this one, and the query API reads it."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from trainwire.exporters.sqlite.query import RunQuery
from trainwire.exporters.sqlite.schema import _MIGRATIONS, SCHEMA_VERSION, connect

T0 = 1_700_000_000_000_000_000


def _old_store(path: Path, version: int) -> None:
    """A store as trainwire at schema ``version`` wrote it: one run, 5,000 points of loss."""
    raw = sqlite3.connect(path)
    for script in _MIGRATIONS[:version]:
        raw.executescript(script)
    raw.execute(
        "INSERT INTO resources(id, fingerprint, run_id, rank, attributes) VALUES (1,'f','old',0,'{}')"
    )
    raw.execute(
        "INSERT INTO runs(run_id, name, experiment, status, start_time, end_time)"
        " VALUES ('old', 'legacy', 'mnist', 'completed', ?, ?)",
        (T0, T0 + 5_000 * 10**9),
    )
    raw.execute(
        "INSERT INTO series(id, resource_id, scope_name, name, type, attr_hash, attributes)"
        " VALUES (1, 1, 'trainwire', 'loss', 'gauge', 'h', '{}')"
    )
    raw.executemany(
        "INSERT INTO points VALUES (1, ?, ?, ?)",
        [(T0 + i * 10**9, i, None if i == 7 else 1.0 / (i + 1)) for i in range(5_000)],
    )
    raw.execute("INSERT INTO params VALUES ('old', 'lr', '0.01', ?)", (T0,))
    raw.execute(f"PRAGMA user_version={version}")
    raw.commit()
    raw.close()


def test_schema_3_store_migrates_with_leases_and_rollups_backfilled(tmp_path: Path) -> None:
    """A version-3 store gains leases and rollups; its run, params and metrics read back."""
    path = tmp_path / "v3.db"
    _old_store(path, 3)
    conn = connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM leases").fetchone()[0] == 0
    conn.close()
    with RunQuery(path) as query:
        run = query.get_run("legacy")
        assert run["status"] == "completed" and run["params"] == {"lr": 0.01}
        loss = run["metrics"]["loss"]
        assert loss["count"] == 5_000 and loss["nan_count"] == 1 and loss["max"] == 1.0
        (series,) = query.metrics("old", key="loss", max_points=200)["metrics"]
        assert series["downsampled"] and len(series["value"]) <= 200
        assert series["value"][0] == 1.0 and "NaN" in series["value"]
        assert query.list_runs(where="params.lr = 0.01")["total"] == 1


def test_schema_4_store_migrates_to_the_current_one(tmp_path: Path) -> None:
    """Each intermediate version migrates too (here 4, before rollups)."""
    path = tmp_path / "v4.db"
    _old_store(path, 4)
    with RunQuery(path) as query:
        (series,) = query.metrics("old", key="loss")["metrics"]
    assert series["total"] == 5_000 and series["value"][7] == "NaN"
    assert math.isclose(series["value"][1], 0.5)


def test_removing_a_series_or_run_removes_its_rollups_and_lease(tmp_path: Path) -> None:
    """Triggers keep derived rows from outliving what they describe (a reused series id)."""
    path = tmp_path / "v3.db"
    _old_store(path, 3)
    conn = connect(path)
    conn.execute("INSERT INTO leases VALUES ('old', 0, 1, 'boot', 'host', 0)")
    assert conn.execute("SELECT count(*) FROM point_rollups").fetchone()[0] > 0
    conn.execute("DELETE FROM series WHERE id = 1")
    conn.execute("DELETE FROM runs WHERE run_id = 'old'")
    assert conn.execute("SELECT count(*) FROM point_rollups").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM leases").fetchone()[0] == 0
    conn.close()
