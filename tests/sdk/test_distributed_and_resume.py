"""Several ranks in one run, resuming runs, rewinds, dry runs and what a run records of its origin."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import trainwire
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import CollectorProcess, clean_environment

RANK_SCRIPT = """
import sys, trainwire
run = trainwire.init(name="ddp", endpoint=sys.argv[1])
for step in range(20):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
run.finish(status=sys.argv[2])
print(run.id)
"""


def _rank_env(rank: int, world: int, **extra: str) -> dict[str, str]:
    env = clean_environment("RANK", "WORLD_SIZE", "SLURM_", "TORCHELASTIC")
    env.update({"RANK": str(rank), "WORLD_SIZE": str(world), **extra})
    return env


def test_two_ranks_log_into_one_run_that_ends_when_both_end(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    """Two processes with torchrun's variables share one run; rank 0's scalars are kept; the run fails if any rank failed."""
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    outs = []
    for rank, status in ((0, "completed"), (1, "failed")):
        env = _rank_env(rank, 2, TORCHELASTIC_RUN_ID="job-42")
        result = subprocess.run(
            [sys.executable, str(script), collector.endpoint, status],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        outs.append(result.stdout.strip())
    assert outs == ["torchrun-job-42", "torchrun-job-42"]
    collector.stop()
    with StoreReader(collector.db_path) as store:
        run = store.run("torchrun-job-42")
        assert run.status == "failed" and run.world_size == 2
        assert len(store.points("torchrun-job-42", "loss")) == 20  # rank 0 only
    with sqlite3.connect(collector.db_path) as conn:
        ranks = conn.execute("SELECT rank, status FROM run_ranks ORDER BY rank").fetchall()
    assert ranks == [(0, "completed"), (1, "failed")]


def test_rank_without_a_shared_job_id_is_refused_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rank of a multi-process job with nothing naming the job is refused, never merged into another job."""
    for key in ("TORCHELASTIC_RUN_ID", "SLURM_JOB_ID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(trainwire.ConfigError, match="TRAINWIRE_RUN_ID"):
        trainwire.init()
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")
    with pytest.raises(trainwire.ConfigError, match="--rdzv-id"):
        trainwire.init()


def test_resume_allow_continues_steps_and_must_refuses_an_unknown_run(tmp_path: Path) -> None:
    """resume='allow' continues the same run at the next step; resume='must' fails clearly for an unknown id."""
    db = tmp_path / "s.db"
    with trainwire.init(id="exp-1", db_path=db) as run:
        for _ in range(5):
            run.log({"x": 1.0})
    with trainwire.init(id="exp-1", resume="allow", db_path=db) as again:
        again.log({"x": 2.0})
    with StoreReader(db) as store:
        assert [p[0] for p in store.points("exp-1", "x")] == [0, 1, 2, 3, 4, 5]
        assert store.run("exp-1").status == "completed"
    with pytest.raises(trainwire.ConfigError, match="no run 'nope'"):
        trainwire.init(id="nope", resume="must", db_path=db)


def test_resume_from_sets_aside_points_after_the_checkpoint(tmp_path: Path) -> None:
    """A preempted run restarted from step 3's checkpoint keeps steps 0-3, sets aside its old 4-9, and continues at 4."""
    db = tmp_path / "s.db"
    with trainwire.init(id="pre", db_path=db) as run:
        for step in range(10):
            run.log({"loss": float(step)}, step=step)
    with trainwire.init(id="pre", resume="allow", resume_from=3, db_path=db) as again:
        again.log({"loss": 40.0})
        again.log({"loss": 50.0})
    with StoreReader(db) as store:
        assert [(p[0], p[2]) for p in store.points("pre", "loss")] == [
            (0, 0.0),
            (1, 1.0),
            (2, 2.0),
            (3, 3.0),
            (4, 40.0),
            (5, 50.0),
        ]
        assert [p[0] for p in store.superseded("pre", "loss")] == [4, 5, 6, 7, 8, 9]


def test_lower_step_is_kept_and_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Logging a step below the highest one keeps the point and warns once."""
    db = tmp_path / "s.db"
    with trainwire.init(db_path=db) as run:
        run.log({"x": 1.0}, step=10)
        run.log({"x": 2.0}, step=3)
        run.log({"x": 3.0}, step=2)
    assert caplog.text.count("both are kept") == 1
    with StoreReader(db) as store:
        assert sorted(p[0] for p in store.points(run.id, "x")) == [2, 3, 10]


def test_dry_run_prints_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dry_run=True prints a line per request and writes no store."""
    os.chdir(tmp_path)
    with trainwire.init(name="rehearsal", dry_run=True) as run:
        run.log({"loss": 0.5, "acc": 0.9})
    err = capsys.readouterr().err
    assert "[trainwire dry run] metrics 2 points steps 0-0: loss×1, acc×1" in err
    assert "ml.run.start" in err and "ml.run.end" in err
    assert not (tmp_path / "trainwire.db").exists()


def test_start_records_git_packages_and_command_line(tmp_path: Path) -> None:
    """A run started inside a git checkout records its commit, branch, dirty state, packages and argv."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.email", "t@e"],
        ["config", "user.name", "t"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "train.py").write_text(
        "import trainwire\nr = trainwire.init()\nr.finish()\nprint(r.id)\n"
    )
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=repo, check=True)
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# edited\n")
    env = clean_environment()
    result = subprocess.run(
        [sys.executable, "train.py", "--lr", "3"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    with StoreReader(repo / "trainwire.db") as store:
        details = store.run(result.stdout.strip()).details
    assert details["git"]["branch"] == "main" and details["git"]["dirty"] is True
    assert len(details["git"]["commit"]) == 40
    assert details["argv"] == ["train.py", "--lr", "3"]
    assert any(p.startswith("trainwire==") for p in details["packages"])
    assert json.dumps(details)  # all of it is plain JSON
