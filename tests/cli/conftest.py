"""Run stores written by real runs (the SDK's embedded default) for the CLI tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import trainwire
from trainwire.cli import main

MODEL_BYTES = b"weights" * 50_000


def _log_runs(db: Path) -> dict[str, str]:
    """alpha (vision, artifacts), beta (nlp, failed, shares alpha's model), gamma (vision)."""
    model = db.parent / "model.bin"
    model.write_bytes(MODEL_BYTES)
    options = {"db_path": db, "capture_pip": False, "system_metrics": False}
    ids = {}
    with trainwire.init(
        name="alpha",
        experiment="vision",
        config={"lr": 0.1, "opt": {"name": "adam"}, "epochs": 5},
        tags=["baseline"],
        **options,  # type: ignore[arg-type]
    ) as run:
        run.set_tag("owner", "ana")
        run.define_metric("acc", goal="max")
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 5}, step=step)
        run.log({"loss": float("nan")}, step=5)
        run.summary({"best_acc": 0.8})
        run.log_text("hello", "notes.txt")
        run.log_artifact(model, "ckpt/model.bin")
        ids["alpha"] = run.id
    with (
        pytest.raises(KeyError),
        trainwire.init(name="beta", experiment="nlp", config={"lr": 0.5}, **options) as run,  # type: ignore[arg-type]
    ):
        ids["beta"] = run.id
        run.log({"loss": 3.0}, step=0)
        run.log_artifact(model, "model.bin")
        raise KeyError("tokenizer")
    with trainwire.init(
        name="gamma",
        experiment="vision",
        config={"lr": 0.01, "opt": {"name": "adam"}, "epochs": 5},
        **options,  # type: ignore[arg-type]
    ) as run:
        run.define_metric("acc", goal="max")
        for step in range(3):
            run.log({"loss": 2.0 / (step + 1), "acc": step / 3}, step=step)
        ids["gamma"] = run.id
    return ids


class Store:
    """A store file with the three runs, and a way to run commands on it."""

    def __init__(self, db: Path, ids: dict[str, str]) -> None:
        self.db = db
        self.blobs = db.parent / "trainwire-artifacts"
        self.ids = ids
        self.model_bytes = MODEL_BYTES

    def cli(self, *args: str, input: str | None = None) -> Result:
        """``trainwire ARGS --db <store>``, wide enough that tables do not wrap."""
        return CliRunner().invoke(
            main, [*args, "--db", str(self.db)], input=input, terminal_width=250
        )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The module's store, written once: only for commands that do not change it."""
    directory = tmp_path_factory.mktemp("store")
    saved = os.environ.get("TRAINWIRE_DIR")
    os.environ["TRAINWIRE_DIR"] = str(directory / "trainwire-runs")
    try:
        ids = _log_runs(directory / "runs.db")
    finally:
        if saved is None:
            os.environ.pop("TRAINWIRE_DIR", None)
        else:
            os.environ["TRAINWIRE_DIR"] = saved
    yield Store(directory / "runs.db", ids)


@pytest.fixture
def store(pristine: Store, tmp_path: Path) -> Store:
    """A copy of the module's store (file, WAL and blobs) that a test may change."""
    copy = tmp_path / "copy"
    shutil.copytree(pristine.db.parent, copy, ignore=shutil.ignore_patterns("trainwire-runs"))
    return Store(copy / "runs.db", pristine.ids)


@pytest.fixture
def cli(pristine: Store) -> Callable[..., Result]:
    """Run a read-only command on the module's store."""
    return pristine.cli
