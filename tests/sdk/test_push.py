"""`trainwire sync --to`: runs tracked locally, pushed to a shared collector, exactly once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from click.testing import CliRunner

import trainwire
from trainwire.cli import main
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import CollectorProcess


def _counts(db: Path) -> tuple[int, int, int, int]:
    with sqlite3.connect(db) as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("points", "distributions", "events", "artifacts")
        )


def test_embedded_runs_are_pushed_whole_and_only_once(
    tmp_path: Path, collector: CollectorProcess
) -> None:
    """Pushing a local store twice gives the collector the same runs, points, steps, events and artifacts as the local store, once."""
    db = tmp_path / "local.db"
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights" * 1000)
    with trainwire.init(
        name="local-1", config={"lr": 0.1}, db_path=db, system_metrics=False
    ) as run:
        for step in range(300):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.log_histogram("w", np.arange(50.0), step=299)
        run.log_artifact(model, name="model.bin", kind="model")
        run.summary({"best": 0.9})
    with trainwire.init(name="local-2", db_path=db, system_metrics=False) as other:
        other.log({"acc": 0.5})

    for _ in range(2):
        result = CliRunner().invoke(
            main, ["sync", str(tmp_path / "none"), "--to", collector.endpoint, "--db", str(db)]
        )
        assert result.exit_code == 0, result.output
        assert "pushed 2 runs" in result.output and "1 artifact blobs" in result.output
    collector.stop()

    assert _counts(collector.db_path) == _counts(db)
    with StoreReader(collector.db_path) as remote, StoreReader(db) as local:
        for run_id in (run.id, other.id):
            assert remote.run(run_id) == local.run(run_id)
            assert remote.params(run_id) == local.params(run_id)
            assert remote.summary(run_id) == local.summary(run_id)
        assert remote.points(run.id, "loss") == local.points(run.id, "loss")
