"""What log() accepts: numbers of any common kind; anything else is refused by name."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import trainwire
from trainwire.exporters.sqlite import StoreReader


@pytest.fixture
def run(tmp_path: Path) -> trainwire.Run:
    """A run on a store in tmp_path."""
    return trainwire.init(db_path=tmp_path / "store.db")


def test_numpy_scalars_are_logged_like_floats(run: trainwire.Run, tmp_path: Path) -> None:
    """numpy float32/float64/int64/bool_ scalars and 0-d arrays are stored as their float value."""
    run.log(
        {
            "f32": np.float32(0.5),
            "f64": np.float64(0.25),
            "i64": np.int64(3),
            "b": np.bool_(True),
            "arr": np.array(2.5),
        },
        step=np.int64(4),
    )
    run.finish()
    with StoreReader(tmp_path / "store.db") as store:
        latest = store.latest_metrics(run.id)
    assert {k: (v.value, v.step) for k, v in latest.items()} == {
        "arr": (2.5, 4),
        "b": (1.0, 4),
        "f32": (0.5, 4),
        "f64": (0.25, 4),
        "i64": (3.0, 4),
    }


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_torch_scalars_are_logged_like_floats(run: trainwire.Run, tmp_path: Path) -> None:
    """A 0-d torch tensor and a one-element tensor are stored as their float value."""
    import torch

    run.log({"loss": torch.tensor(0.75), "one": torch.tensor([2.0])})
    run.finish()
    with StoreReader(tmp_path / "store.db") as store:
        latest = store.latest_metrics(run.id)
    assert (latest["loss"].value, latest["one"].value) == (0.75, 2.0)


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"acc": "high"}, "metric 'acc': 'high' is not a number"),
        ({"acc": None}, "metric 'acc': None is not a number"),
        ({"acc": [1, 2]}, "metric 'acc': list is not a number"),
        ({"acc": np.array([1.0, 2.0])}, "metric 'acc': cannot turn ndarray into one number"),
        ({"": 1.0}, "metric names must be non-empty strings"),
        ({3: 1.0}, "metric names must be non-empty strings, got 3"),
        ({"ml.step": 1}, "reserved for the step"),
        ([("acc", 1.0)], "log() takes a dict"),
    ],
)
def test_bad_values_raise_naming_the_key(run: trainwire.Run, metrics: object, message: str) -> None:
    """A value that is not a number is refused with an error naming the metric."""
    with pytest.raises(trainwire.InvalidValueError) as info:
        run.log(metrics)  # type: ignore[arg-type]
    assert message in str(info.value)
    run.finish()


@pytest.mark.parametrize(
    ("step", "message"), [(-1, "0 or more"), (1.5, "whole number"), ("3", "whole number")]
)
def test_bad_steps_are_refused(run: trainwire.Run, step: object, message: str) -> None:
    """A negative or fractional step is refused with a clear message."""
    with pytest.raises(trainwire.InvalidValueError, match=message):
        run.log({"x": 1.0}, step=step)  # type: ignore[arg-type]
    run.finish()


def test_rejected_log_call_does_not_lose_earlier_data(run: trainwire.Run, tmp_path: Path) -> None:
    """A refused log() call stores nothing of itself and keeps what was logged before."""
    run.log({"good": 1.0}, step=0)
    with pytest.raises(trainwire.InvalidValueError):
        run.log({"good": 2.0, "bad": "x"}, step=1)
    run.finish()
    with StoreReader(tmp_path / "store.db") as store:
        assert [(p[0], p[2]) for p in store.points(run.id, "good")] == [(0, 1.0)]
