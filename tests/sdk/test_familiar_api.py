"""The names users already type: log_metric(s), log_param, labels, rename, alerts, metric goals."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import trainwire
from trainwire.exporters.sqlite import StoreReader


def test_mlflow_and_wandb_style_calls_are_stored(tmp_path: Path) -> None:
    """log_metric, log_metrics, log_param, add/remove_tags, rename, alert and define_metric all reach the store."""
    db = tmp_path / "s.db"
    with trainwire.init(name="first", tags=["a", "b"], db_path=db) as run:
        run.log_metric("loss", 0.5, step=1)
        run.log_metrics({"loss": 0.25, "acc": 0.9}, step=2)
        run.log_param("optimizer", "sgd")
        run.add_tags(["c"])
        run.remove_tags("a")
        run.name = "renamed"
        run.alert("loss spike", "loss jumped to 9", level="warn")
        run.define_metric("acc", goal="max", step_metric="epoch")
        assert (run.run_id, run.name) == (run.id, "renamed")
    with StoreReader(db) as store:
        assert store.run(run.id).name == "renamed"
        assert [(p[0], p[2]) for p in store.points(run.id, "loss")] == [(1, 0.5), (2, 0.25)]
        assert store.params(run.id) == {"optimizer": "sgd"}
        assert store.labels(run.id) == ["b", "c"]
    with sqlite3.connect(db) as conn:
        (alert,) = conn.execute("SELECT body FROM events WHERE name = 'ml.alert'").fetchone()
        spec = conn.execute("SELECT key, goal, step_metric FROM metric_specs").fetchall()
    assert json.loads(alert) == {"title": "loss spike", "text": "loss jumped to 9", "level": "warn"}
    assert spec == [("acc", "max", "epoch")]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.alert("t", "x", level="panic"), "alert level must be one of"),
        (lambda r: r.define_metric("acc", goal="best"), "goal must be 'min' or 'max'"),
        (lambda r: r.add_tags(["ok", 3]), "tags must be non-empty strings"),
        (lambda r: setattr(r, "name", ""), "a run name must be a non-empty string"),
    ],
)
def test_bad_arguments_are_refused_by_name(tmp_path: Path, call: object, message: str) -> None:
    """Each familiar method refuses a wrong argument with a message naming it."""
    run = trainwire.init(db_path=tmp_path / "s.db")
    with pytest.raises(trainwire.InvalidValueError, match=message):
        call(run)  # type: ignore[operator]
    run.finish()


def test_group_is_readable_from_the_run(tmp_path: Path) -> None:
    """run.group returns the group given to init(), or None."""
    with trainwire.init(group="sweep-7", db_path=tmp_path / "s.db") as run:
        assert run.group == "sweep-7"
    with trainwire.init(db_path=tmp_path / "s.db") as other:
        assert other.group is None
