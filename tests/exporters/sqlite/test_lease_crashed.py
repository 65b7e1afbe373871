"""Embedded default: a killed training process shows as crashed once its lease expires."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from trainwire.exporters.sqlite.lease import boot_id, dead_runs, pid_alive
from trainwire.exporters.sqlite.query import RunQuery
from trainwire.exporters.sqlite.schema import connect
from trainwire.testing import clean_environment, wait_for

LONG_RUN = """
import sys, time, trainwire
run = trainwire.init(name="doomed", system_metrics=False, capture_console=False)
run.log({"loss": 1.0})
while True:
    run.log({"loss": 0.5})
    time.sleep(0.05)
"""


def _start(tmp_path: Path, heartbeat_s: str) -> tuple[subprocess.Popen[str], Path]:
    script = tmp_path / "train.py"
    script.write_text(LONG_RUN)
    db = tmp_path / "trainwire.db"
    env = {
        **clean_environment(),
        "TRAINWIRE_DB": str(db),
        "TRAINWIRE_DIR": str(tmp_path / "runs"),
        "TRAINWIRE_HEARTBEAT_INTERVAL": heartbeat_s,
    }
    process = subprocess.Popen([sys.executable, str(script)], env=env, text=True, cwd=tmp_path)
    return process, db


def _expiry(db: Path) -> int:
    conn = connect(db)
    try:
        return int(conn.execute("SELECT max(expires) FROM leases").fetchone()[0])
    finally:
        conn.close()


def _status(db: Path) -> str | None:
    if not db.exists():
        return None
    with RunQuery(db) as query:
        runs = query.list_runs()["runs"]
    return runs[0]["status"] if runs else None


def test_killed_embedded_run_reads_as_crashed_after_its_lease(tmp_path: Path) -> None:
    """SIGKILL leaves the store saying running; readers show crashed once the lease lapses."""
    process, db = _start(tmp_path, "0.3")  # lease = 3 heartbeats = 0.9 s
    try:
        assert wait_for(lambda: _status(db) == "running", timeout_s=30)
        first_expiry = _expiry(db)
        # Alive and renewing: still running once its first lease has lapsed.
        assert wait_for(lambda: time.time_ns() > first_expiry, timeout_s=30)
        assert _expiry(db) > first_expiry
        with RunQuery(db) as query:
            run_id = query.list_runs()["runs"][0]["id"]
            assert query.get_run(run_id)["status"] == "running"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    conn = connect(db)
    stored = conn.execute("SELECT status FROM runs").fetchone()[0]
    pid, boot = conn.execute("SELECT pid, boot_id FROM leases").fetchone()
    conn.close()
    assert stored == "running"  # nobody wrote an end
    assert pid == process.pid and boot == boot_id()
    assert wait_for(lambda: _status(db) == "crashed", timeout_s=30)
    with RunQuery(db) as query:
        run = query.get_run(run_id)
        assert run["status"] == "crashed" and run["ranks"][0]["status"] == "crashed"
        assert query.list_runs(status="crashed")["total"] == 1
        assert query.list_runs(status="running")["total"] == 0
        assert query.list_runs(where="status = 'crashed'")["total"] == 1


def test_lease_of_a_live_process_on_another_boot_counts_as_dead(tmp_path: Path) -> None:
    """A lease from another boot of the machine means its process is gone, whatever the pid."""
    db = tmp_path / "s.db"
    conn = connect(db)
    conn.execute("INSERT INTO runs(run_id, status) VALUES ('a', 'running'), ('b', 'running')")
    conn.execute(
        "INSERT INTO leases VALUES ('a', 0, ?, 'another-boot', 'h', 1), ('b', 0, ?, ?, 'h', 1)",
        (os.getpid(), os.getpid(), boot_id()),
    )
    assert dead_runs(conn) == ["a"]  # b's process (this one) is alive on this boot
    conn.close()
    assert pid_alive(os.getpid()) and not pid_alive(0)


def test_finished_embedded_run_stays_completed(tmp_path: Path) -> None:
    """A run that finished is completed, lease or not, once its process has exited."""
    script = tmp_path / "ok.py"
    script.write_text(
        "import trainwire\n"
        "run = trainwire.init(name='fine', system_metrics=False, capture_console=False)\n"
        "run.log({'loss': 1.0})\nrun.finish()\n"
    )
    db = tmp_path / "trainwire.db"
    env = {
        **clean_environment(),
        "TRAINWIRE_DB": str(db),
        "TRAINWIRE_DIR": str(tmp_path / "runs"),
        "TRAINWIRE_HEARTBEAT_INTERVAL": "0.1",
    }
    subprocess.run([sys.executable, str(script)], env=env, check=True, timeout=60)
    expiry = _expiry(db)
    assert wait_for(lambda: time.time_ns() > expiry, timeout_s=30)
    assert _status(db) == "completed"
