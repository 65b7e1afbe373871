"""Plain OpenTelemetry meters through run.meter_provider() land in the run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import trainwire
from trainwire.testing import CollectorProcess


def _series(db: Path, run_id: str) -> dict[str, tuple[str, float | None, dict[str, str]]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT s.name, s.type, s.attributes, s.id FROM series s JOIN resources r"
            " ON r.id = s.resource_id WHERE r.run_id = ? AND s.scope_name = 'dataloader'",
            (run_id,),
        ).fetchall()
        result = {}
        for name, kind, attributes, sid in rows:
            (latest,) = conn.execute(
                "SELECT value FROM points WHERE series_id = ? ORDER BY time DESC LIMIT 1", (sid,)
            ).fetchone() or (None,)
            result[name] = (kind, latest, json.loads(attributes))
        return result


def test_counter_from_meter_provider_is_stored_under_the_run(tmp_path: Path) -> None:
    """A Counter and an UpDownCounter made from run.meter_provider() are stored with the run's resource when the run finishes."""
    db = tmp_path / "s.db"
    with trainwire.init(name="meters", db_path=db) as run:
        meter = run.meter_provider().get_meter("dataloader")
        batches = meter.create_counter("batches")
        inflight = meter.create_up_down_counter("inflight")
        for _ in range(7):
            batches.add(1, {"split": "train"})
        inflight.add(3)
        assert run.meter_provider() is run.meter_provider()
    assert _series(db, run.id) == {
        "batches": ("sum", 7.0, {"split": "train"}),
        "inflight": ("sum", 3.0, {}),
    }


def test_meter_data_reaches_a_collector_with_the_run(collector: CollectorProcess) -> None:
    """Through a collector too, meter data arrives attributed to the run."""
    with trainwire.init(name="meters", endpoint=collector.endpoint) as run:
        run.meter_provider().get_meter("dataloader").create_counter("tokens").add(4096)
    collector.stop()
    assert _series(collector.db_path, run.id) == {"tokens": ("sum", 4096.0, {})}
