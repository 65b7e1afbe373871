"""The embedded default: no collector, no environment, data in ./trainwire.db."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import trainwire
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import clean_environment


def test_script_with_no_configuration_writes_trainwire_db(tmp_path: Path) -> None:
    """A script run with no TRAINWIRE_*/OTEL_* variables stores its run in ./trainwire.db."""
    script = tmp_path / "train.py"
    script.write_text(
        "import trainwire\n"
        "run = trainwire.init(name='local', config={'lr': 0.1})\n"
        "for s in range(50):\n"
        "    trainwire.log({'loss': 1 / (s + 1)})\n"
        "trainwire.finish()\n"
        "print(run.id)\n"
    )
    env = clean_environment()
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    with StoreReader(tmp_path / "trainwire.db") as store:
        run = store.run(result.stdout.strip())
        assert (run.name, run.status) == ("local", "completed")
        assert [p[0] for p in store.points(run.run_id, "loss")] == list(range(50))
        assert store.params(run.run_id) == {"lr": 0.1}


def test_run_left_unfinished_is_completed_at_exit(tmp_path: Path) -> None:
    """A script that never calls finish() still delivers everything and ends completed."""
    script = tmp_path / "train.py"
    script.write_text(
        "import trainwire\nrun = trainwire.init()\nrun.log({'x': 1.5}, step=3)\nprint(run.id)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    with StoreReader(tmp_path / "trainwire.db") as store:
        run_id = result.stdout.strip()
        assert store.run(run_id).status == "completed"
        assert store.points(run_id, "x") == [(3, store.points(run_id, "x")[0][1], 1.5)]


def test_context_manager_records_failure_and_reraises(tmp_path: Path) -> None:
    """An exception in the with-block re-raises and the run is stored failed with its message."""
    db = tmp_path / "store.db"
    with pytest.raises(RuntimeError, match="diverged"):
        with trainwire.init(name="bad", db_path=db) as run:
            run.log({"loss": float("nan")})
            raise RuntimeError("diverged")
    with StoreReader(db) as store:
        stored = store.run(run.id)
        assert (stored.status, stored.exception_type, stored.exception_message) == (
            "failed",
            "RuntimeError",
            "diverged",
        )
        assert [str(p[2]) for p in store.points(run.id, "loss")] == ["nan"]


def test_finish_is_idempotent_and_log_after_finish_raises(tmp_path: Path) -> None:
    """finish() twice is harmless; logging to a finished run raises a clear error."""
    run = trainwire.init(db_path=tmp_path / "store.db")
    run.finish()
    run.finish()
    with pytest.raises(trainwire.RunFinishedError, match="has finished"):
        run.log({"x": 1})
    assert trainwire.run is None


def test_module_level_log_uses_the_active_run(tmp_path: Path) -> None:
    """trainwire.log() goes to the run trainwire.init() made; without one it raises."""
    db = tmp_path / "store.db"
    run = trainwire.init(name="active", db_path=db)
    assert trainwire.run is run
    trainwire.log({"a": 1.0}, step=5)
    trainwire.finish(status="killed")
    with StoreReader(db) as store:
        assert store.run(run.id).status == "killed"
        assert store.latest_metrics(run.id)["a"].step == 5
    with pytest.raises(trainwire.RunFinishedError, match="no active run"):
        trainwire.log({"a": 2.0})


def test_steps_count_log_calls_when_not_given(tmp_path: Path) -> None:
    """Without step=, each log() call is the next step, continuing after an explicit step."""
    db = tmp_path / "store.db"
    with trainwire.init(db_path=db) as run:
        run.log({"v": 0.0})
        run.log({"v": 1.0})
        run.log({"v": 10.0}, step=10)
        run.log({"v": 11.0})
    with StoreReader(db) as store:
        assert [(p[0], p[2]) for p in store.points(run.id, "v")] == [
            (0, 0.0),
            (1, 1.0),
            (10, 10.0),
            (11, 11.0),
        ]
