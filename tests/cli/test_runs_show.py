"""`trainwire runs` and `trainwire show` on a real store file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import trainwire
from trainwire.cli import main


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with two finished runs, one of them failed."""
    db = tmp_path / "runs.db"
    with trainwire.init(name="alpha", experiment="vision", config={"lr": 0.1}, db_path=db) as run:
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 5}, step=step)
        run.summary({"best_acc": 0.8})
    with pytest.raises(KeyError), trainwire.init(name="beta", experiment="nlp", db_path=db):
        raise KeyError("tokenizer")
    return db


def test_runs_lists_every_run_with_status_and_latest_metrics(store: Path) -> None:
    """The table shows each run's name, experiment, status and latest metric values."""
    result = CliRunner().invoke(main, ["runs", "--db", str(store)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "alpha" in result.output and "vision" in result.output and "completed" in result.output
    assert "beta" in result.output and "failed" in result.output
    assert "acc=0.8" in result.output and "loss=0.2" in result.output


def test_runs_filters_by_experiment(store: Path) -> None:
    """--experiment keeps only that experiment's runs."""
    result = CliRunner().invoke(main, ["runs", "--db", str(store), "-e", "nlp"], terminal_width=200)
    assert "beta" in result.output and "alpha" not in result.output


def test_show_prints_params_summary_metrics_and_failure(store: Path) -> None:
    """show RUN (by name) prints params, summary, each metric's latest value and step."""
    ok = CliRunner().invoke(main, ["show", "alpha", "--db", str(store)], terminal_width=200)
    assert ok.exit_code == 0, ok.output
    for text in ("lr", "0.1", "best_acc", "loss", "0.2", "4", "completed"):
        assert text in ok.output
    failed = CliRunner().invoke(main, ["show", "beta", "--db", str(store)], terminal_width=200)
    assert "KeyError: 'tokenizer'" in failed.output


def test_show_unknown_run_is_a_clear_error(store: Path) -> None:
    """An id that matches nothing exits non-zero and says how to list runs."""
    result = CliRunner().invoke(main, ["show", "nope", "--db", str(store)])
    assert result.exit_code == 1
    assert "no run matches 'nope'" in result.output and "trainwire runs" in result.output


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    """Pointing at a file that does not exist says so, and does not create it."""
    missing = tmp_path / "none.db"
    result = CliRunner().invoke(main, ["runs", "--db", str(missing)])
    assert result.exit_code == 1
    assert f"no trainwire store at {missing}" in result.output
    assert not missing.exists()


def test_default_store_comes_from_trainwire_db(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --db, TRAINWIRE_DB names the store."""
    monkeypatch.setenv("TRAINWIRE_DB", str(store))
    result = CliRunner().invoke(main, ["runs"], terminal_width=200)
    assert "alpha" in result.output
