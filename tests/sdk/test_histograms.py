"""log_histogram(): a distribution at a step, stored as an OTLP Histogram point."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import trainwire
from trainwire.histograms import bucketize


def test_bucket_counts_cover_every_value_with_inclusive_upper_bounds() -> None:
    """Equal-width buckets count each value once; a value on a bound goes to the lower bucket."""
    bounds, counts, total, low, high = bucketize("w", [0, 1, 2, 3, 4], bins=4)
    assert bounds == [1.0, 2.0, 3.0]
    assert counts == [2, 1, 1, 1]
    assert (total, low, high) == (10.0, 0.0, 4.0)
    assert bucketize("w", [5, 5, 5], bins=8)[:2] == ([], [3])


def test_histogram_is_stored_with_its_step(tmp_path: Path) -> None:
    """A numpy array logged at step 7 is stored as one distribution with count, sum, bounds and step 7."""
    db = tmp_path / "s.db"
    with trainwire.init(db_path=db) as run:
        run.log({"loss": 1.0}, step=6)
        run.log_histogram("weights", np.arange(100.0).reshape(10, 10), step=7, bins=4)
    with sqlite3.connect(db) as conn:
        step, count, total, low, high, data = conn.execute(
            "SELECT d.step, d.count, d.sum, d.min, d.max, d.data FROM distributions d"
            " JOIN series s ON s.id = d.series_id WHERE s.name = 'weights'"
        ).fetchone()
    assert (step, count, total, low, high) == (7, 100, 4950.0, 0.0, 99.0)
    assert json.loads(data)["counts"] == [25, 25, 25, 25]


@pytest.mark.parametrize(
    ("values", "bins", "message"),
    [
        ([], 4, "no values"),
        ([1.0, float("nan")], 4, "finite"),
        (["a"], 4, "numbers"),
        ([1.0], 0, "bins"),
    ],
)
def test_bad_histograms_are_refused_by_name(
    tmp_path: Path, values: list[object], bins: int, message: str
) -> None:
    """Empty, non-finite or non-numeric values and a bad bin count are refused, naming the histogram."""
    run = trainwire.init(db_path=tmp_path / "s.db")
    with pytest.raises(trainwire.InvalidValueError, match=f"histogram 'h'.*{message}"):
        run.log_histogram("h", values, bins=bins)
    run.finish()
