"""trainwire.Client on a store file and on the HTTP API: runs, metrics, artifacts, errors.

Every test runs twice, on the collector's store file and on its query API URL, so
both answer the same for the same data.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

import trainwire
from trainwire.client import ClientError
from trainwire.errors import (
    ArtifactNotFoundError,
    CorruptArtifactError,
    InvalidQueryError,
    RunNotFoundError,
)


def test_runs_lists_every_run_newest_first(client: trainwire.Client) -> None:
    """runs() returns each run with its name, experiment and final status, newest first."""
    runs = client.runs()
    assert [r["name"] for r in runs] == ["gamma", "beta", "alpha"]
    assert {r["name"]: r["status"] for r in runs} == {
        "alpha": "completed",
        "beta": "failed",
        "gamma": "completed",
    }
    assert runs[2]["experiment"] == "vision" and runs[2]["labels"] == ["baseline"]
    assert runs[2]["tags"] == {"owner": "ana"}


@pytest.mark.parametrize(
    ("filters", "names"),
    [
        ({"experiment": "vision"}, {"alpha", "gamma"}),
        ({"status": "failed"}, {"beta"}),
        ({"tag": "owner=ana"}, {"alpha"}),
        ({"tag": "owner=bob"}, set()),
        ({"label": "baseline"}, {"alpha"}),
        ({"where": "params.lr < 0.2"}, {"alpha", "gamma"}),
        ({"where": "params.opt.name = 'adam' and summary.acc > 0.7"}, {"alpha"}),
        ({"where": "params.lr >= 0.5 or status = 'completed'"}, {"alpha", "beta", "gamma"}),
    ],
)
def test_runs_filters(client: trainwire.Client, filters: dict[str, str], names: set[str]) -> None:
    """Each filter keeps exactly the runs it describes."""
    assert {r["name"] for r in client.runs(**filters)} == names  # type: ignore[arg-type]


def test_runs_sort_limit_and_offset(client: trainwire.Client) -> None:
    """sort orders by params or summaries; limit and offset page through the result."""
    assert [r["name"] for r in client.runs(sort="params.lr")] == ["gamma", "alpha", "beta"]
    assert [r["name"] for r in client.runs(sort="-params.lr,name")] == ["beta", "alpha", "gamma"]
    assert [r["name"] for r in client.runs(sort="name", limit=2, offset=1)] == ["beta", "gamma"]
    page = client.runs_page(sort="name", limit=1)
    assert page["total"] == 3 and [r["name"] for r in page["runs"]] == ["alpha"]


def test_bad_filter_is_an_invalid_query_error(client: trainwire.Client) -> None:
    """A malformed expression raises InvalidQueryError saying where it went wrong."""
    with pytest.raises(InvalidQueryError, match="position"):
        client.runs(where="params.lr <")
    with pytest.raises(InvalidQueryError, match="cannot sort by"):
        client.runs(sort="banana")


def test_run_by_id_prefix_and_name(client: trainwire.Client, served: Any) -> None:
    """run() accepts the id, a unique prefix of it, or the name, and returns params and summary."""
    run_id = served.ids["alpha"]
    for ref in (run_id, run_id[:6], "alpha"):
        run = client.run(ref)
        assert run["id"] == run_id
    assert run["params"] == {"lr": 0.1, "opt.name": "adam", "epochs": 5}
    assert run["summary"]["best_acc"] == 0.8
    assert run["metrics"]["acc"]["best"] == 0.8 and run["metrics"]["acc"]["goal"] == "max"
    failed = client.run("beta")
    assert failed["exception"] == {"type": "KeyError", "message": "'tokenizer'"}


def test_unknown_run_raises_run_not_found(client: trainwire.Client) -> None:
    """Every method given an unknown run raises RunNotFoundError naming it."""
    calls = [
        lambda: client.run("nope"),
        lambda: client.metrics("nope"),
        lambda: client.artifacts("nope"),
        lambda: client.get_artifact("nope", "notes.txt"),
        lambda: client.wait_for_run("nope", timeout=5),
        lambda: client.wait_for_artifact("nope", "notes.txt", timeout=5),
    ]
    for call in calls:
        with pytest.raises(RunNotFoundError, match="no run matches 'nope'"):
            call()


def test_metrics_are_points_with_nan_kept(client: trainwire.Client) -> None:
    """metrics() gives one dict a point, in step order; a logged NaN comes back as NaN."""
    loss = client.metrics("alpha", "loss")
    assert [p["step"] for p in loss] == [0, 1, 2, 3, 4, 5]
    assert [p["value"] for p in loss[:5]] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert math.isnan(loss[5]["value"])
    assert all(p["key"] == "loss" and p["source"] == "logged" for p in loss)
    assert loss[0]["time"] < loss[5]["time"]
    everything = client.metrics("alpha")
    assert {p["key"] for p in everything} == {"acc", "loss"} and len(everything) == 11
    assert client.metrics("alpha", "no-such-metric") == []


def test_metrics_step_range_and_downsampling(client: trainwire.Client) -> None:
    """from_step/to_step bound the steps; max_points caps the number of points."""
    assert [p["step"] for p in client.metrics("alpha", "acc", from_step=1, to_step=3)] == [1, 2, 3]
    assert len(client.metrics("alpha", "acc", max_points=2)) <= 4  # first, min, max, last
    with pytest.raises(InvalidQueryError):
        client.metrics("alpha", "acc", from_step=4, to_step=1)


def test_metrics_df_is_a_dataframe(client: trainwire.Client) -> None:
    """metrics_df() has one row a point with key, step, time, value and source columns."""
    pytest.importorskip("pandas")
    frame = client.metrics_df("alpha", "acc")
    assert list(frame.columns) == ["key", "step", "time", "value", "source"]
    assert frame["value"].tolist() == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert frame["step"].tolist() == [0, 1, 2, 3, 4]


def test_metrics_df_without_pandas_says_how_to_get_it(
    client: trainwire.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pandas, metrics_df raises ImportError naming the install command."""
    monkeypatch.setitem(sys.modules, "pandas", None)  # what Python does when it is absent
    with pytest.raises(ImportError, match="pip install pandas"):
        client.metrics_df("alpha")


def test_events_of_a_run(client: trainwire.Client) -> None:
    """events() lists the run's events oldest first; name= keeps one kind (the alert)."""
    events = client.events("alpha")
    names = [e["name"] for e in events]
    assert names[0] == "ml.run.start" and "ml.artifact" in names and names[-1] == "ml.run.end"
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    (alert,) = client.events("alpha", name="ml.alert")
    assert alert["body"]["title"] == "loss is NaN" and alert["body"]["text"] == "at step 5"


def test_artifacts_and_their_bytes(client: trainwire.Client, served: Any) -> None:
    """artifacts() lists name, kind, size and sha256; get_artifact returns the bytes."""
    listed = {a["name"]: a for a in client.artifacts("alpha")}
    assert set(listed) == {"ckpt/model.bin", "notes.txt"}
    assert listed["notes.txt"]["kind"] == "text" and listed["notes.txt"]["size"] == 5
    assert listed["ckpt/model.bin"]["size"] == len(served.model_bytes)
    assert client.get_artifact("alpha", "notes.txt") == b"hello"
    assert client.get_artifact("alpha", "ckpt/model.bin") == served.model_bytes


def test_download_artifact_to_a_folder_or_a_file(
    client: trainwire.Client, served: Any, tmp_path: Path
) -> None:
    """download_artifact writes into a folder under the file's name, or to the path given."""
    seen: list[tuple[int, int | None]] = []
    into = client.download_artifact(
        "alpha", "ckpt/model.bin", tmp_path, progress=lambda d, t: seen.append((d, t))
    )
    assert into == tmp_path / "model.bin" and into.read_bytes() == served.model_bytes
    assert seen[0] == (0, len(served.model_bytes)) and seen[-1] == (
        len(served.model_bytes),
        len(served.model_bytes),
    )
    named = client.download_artifact("alpha", "notes.txt", tmp_path / "new" / "n.txt")
    assert named.read_bytes() == b"hello"
    with_slash = client.download_artifact("alpha", "notes.txt", f"{tmp_path}/fresh/")
    assert with_slash == tmp_path / "fresh" / "notes.txt"


def test_unknown_artifact_raises_artifact_not_found(
    client: trainwire.Client, tmp_path: Path
) -> None:
    """An artifact name the run lacks raises ArtifactNotFoundError and writes nothing."""
    with pytest.raises(ArtifactNotFoundError, match="no-such.bin"):
        client.get_artifact("alpha", "no-such.bin")
    with pytest.raises(ArtifactNotFoundError):
        client.download_artifact("alpha", "no-such.bin", tmp_path / "x.bin")
    assert list(tmp_path.iterdir()) == []


def test_path_traversal_names_are_refused(client: trainwire.Client) -> None:
    """An artifact name climbing out of the run is refused, never read from disk."""
    with pytest.raises((InvalidQueryError, ArtifactNotFoundError)):
        client.get_artifact("alpha", "../../etc/passwd")


def test_corrupt_blob_is_refused_and_the_destination_untouched(served: Any, tmp_path: Path) -> None:
    """A blob whose bytes changed on disk fails the download; nothing is left at dest."""
    listed = trainwire.Client(served.url).artifacts("alpha")
    sha = next(a["sha256"] for a in listed if a["name"] == "notes.txt")
    blob = served.blobs / "blobs" / sha[:2] / sha[2:]
    original = blob.read_bytes()
    blob.chmod(0o644)
    blob.write_bytes(b"HELLO")
    try:
        local = trainwire.Client(served.db_path, artifacts_dir=served.blobs)
        for target in (trainwire.Client(served.url), local):
            with pytest.raises((CorruptArtifactError, ClientError)):
                target.download_artifact("alpha", "notes.txt", tmp_path / "notes.txt")
            assert not (tmp_path / "notes.txt").exists()
    finally:
        blob.write_bytes(original)
