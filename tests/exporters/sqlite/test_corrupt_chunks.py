"""A damaged chunk of sealed points: a clear error that says what to do, and the rest still reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import trainwire
from trainwire.cli import main
from trainwire.errors import CorruptStoreError

STEPS = 5000


def _logged_run(db: Path) -> str:
    """A run of the embedded default logging ``loss`` and ``acc`` at every step."""
    with trainwire.init(name="long", db_path=db, capture_pip=False, system_metrics=False) as run:
        for step in range(STEPS):
            run.log({"loss": 1.0 / (step + 1), "acc": step / STEPS}, step=step)
        return run.id


def _damage_a_chunk(db: Path, key: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        cursor = conn.execute(
            "UPDATE point_chunks SET value_data = x'00112233' WHERE rowid = (SELECT c.rowid"
            " FROM point_chunks c JOIN series s ON s.id = c.series_id WHERE s.name = ?"
            " ORDER BY c.last_time LIMIT 1)",
            (key,),
        )
        assert cursor.rowcount == 1, "the embedded writer sealed no chunk of this metric"
    conn.close()


def test_a_damaged_chunk_is_a_clear_error_and_other_metrics_still_read(tmp_path: Path) -> None:
    db = tmp_path / "trainwire.db"
    run_id = _logged_run(db)
    with trainwire.Client(db) as client:
        assert len(client.metrics(run_id, "loss")) == STEPS
    _damage_a_chunk(db, "loss")

    with trainwire.Client(db) as client, pytest.raises(CorruptStoreError, match="damaged"):
        client.metrics(run_id, "loss")
    with trainwire.Client(db) as client:
        acc = client.metrics(run_id, "acc")
        assert [p["step"] for p in acc] == list(range(STEPS))
        assert client.run(run_id)["status"] == "completed"

    result = CliRunner().invoke(main, ["metrics", run_id, "loss", "--db", str(db)])
    assert result.exit_code == 1
    assert "damaged" in result.output and "restore it from a backup" in result.output
    assert "Traceback" not in result.output
