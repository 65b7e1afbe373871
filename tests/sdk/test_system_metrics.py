"""System metrics: the process's and the host's CPU and memory, recorded with the run."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

import trainwire

pytest.importorskip("psutil", reason="system metrics need psutil (trainwire[host])")


def test_process_and_host_metrics_are_recorded_under_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a short interval, the run stores process CPU and memory and host CPU and memory, with plausible values."""
    monkeypatch.setenv("TRAINWIRE_SYSTEM_METRICS_INTERVAL", "0.1")
    db = tmp_path / "s.db"
    with trainwire.init(db_path=db) as run:
        time.sleep(0.5)
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT s.name, s.unit, count(*), max(p.value) FROM points p JOIN series s"
            " ON s.id = p.series_id JOIN resources r ON r.id = s.resource_id"
            " WHERE r.run_id = ? AND s.scope_name = 'trainwire.system' GROUP BY s.name",
            (run.id,),
        ).fetchall()
    found = {name: (unit, count, value) for name, unit, count, value in rows}
    assert set(found) == {
        "process.cpu.utilization",
        "process.memory.usage",
        "system.cpu.utilization",
        "system.memory.utilization",
    }
    assert all(count >= 3 for _, count, _ in found.values())
    assert found["process.memory.usage"][0] == "By" and found["process.memory.usage"][2] > 10e6
    assert 0 < found["system.memory.utilization"][2] <= 1


def test_system_metrics_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """system_metrics=False records none."""
    monkeypatch.setenv("TRAINWIRE_SYSTEM_METRICS_INTERVAL", "0.1")
    db = tmp_path / "s.db"
    with trainwire.init(db_path=db, system_metrics=False):
        time.sleep(0.3)
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT count(*) FROM series WHERE scope_name = 'trainwire.system'"
        ).fetchone() == (0,)
