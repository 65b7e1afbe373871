"""How a script's end is recorded: uncaught exception, SIGTERM, heartbeats while alive."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import clean_environment


def _script(tmp_path: Path, body: str) -> subprocess.Popen[str]:
    path = tmp_path / "train.py"
    path.write_text(body)
    env = clean_environment()
    env["TRAINWIRE_HEARTBEAT_INTERVAL"] = "0.2"
    return subprocess.Popen(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_uncaught_exception_marks_the_run_failed_and_still_prints_the_traceback(
    tmp_path: Path,
) -> None:
    """An exception that escapes the script (no `with`) ends the run failed with the exception, and Python still reports it."""
    proc = _script(
        tmp_path,
        "import trainwire\nrun = trainwire.init()\nprint(run.id, flush=True)\n"
        "run.log({'x': 1.0})\nraise OSError('disk gone')\n",
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "OSError: disk gone" in err
    with StoreReader(tmp_path / "trainwire.db") as store:
        run = store.run(out.strip())
        assert (run.status, run.exception_type, run.exception_message, run.exit_code) == (
            "failed",
            "OSError",
            "disk gone",
            1,
        )


def test_sigterm_marks_the_run_killed_and_the_process_still_dies_of_it(tmp_path: Path) -> None:
    """SIGTERM ends the run killed (exit code 143) and the process still terminates by the signal."""
    proc = _script(
        tmp_path,
        "import time, trainwire\nrun = trainwire.init()\nprint(run.id, flush=True)\n"
        "while True:\n    run.log({'x': 1.0})\n    time.sleep(0.01)\n",
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGTERM
    with StoreReader(tmp_path / "trainwire.db") as store:
        run = store.run(run_id)
        assert (run.status, run.exit_code) == ("killed", 143)
        assert store.points(run_id, "x")


def test_users_own_sigterm_handler_still_runs(tmp_path: Path) -> None:
    """A SIGTERM handler the script installed before init() is still called after the run is ended."""
    proc = _script(
        tmp_path,
        "import signal, sys, time, trainwire\n"
        "def bye(signum, frame):\n    print('cleanup', flush=True)\n    sys.exit(7)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "run = trainwire.init()\nprint(run.id, flush=True)\n"
        "while True:\n    time.sleep(0.01)\n",
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 7 and "cleanup" in out
    with StoreReader(tmp_path / "trainwire.db") as store:
        assert store.run(run_id).status == "killed"


def test_heartbeats_carry_the_time_of_the_last_log_call(tmp_path: Path) -> None:
    """While a run is alive it sends ml.run.heartbeat events whose last_log_time is the last log() time."""
    proc = _script(
        tmp_path,
        "import time, trainwire\nrun = trainwire.init()\nrun.log({'x': 1.0})\n"
        "time.sleep(1.0)\nrun.finish()\n",
    )
    assert proc.wait(timeout=60) == 0
    with sqlite3.connect(tmp_path / "trainwire.db") as conn:
        beats = [
            json.loads(b)
            for (b,) in conn.execute(
                "SELECT body FROM events WHERE name = 'ml.run.heartbeat' ORDER BY time"
            )
        ]
        (log_time,) = conn.execute("SELECT time FROM points").fetchone()
    assert len(beats) >= 3
    assert all(b["last_log_time"] == log_time for b in beats)
