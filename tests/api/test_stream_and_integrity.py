"""Live updates by server-sent events, and artifact bytes checked against their sha256."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trainwire.errors import CorruptArtifactError
from trainwire.exporters.sqlite.query import RunQuery
from trainwire.testing import clean_environment, wait_for

LIVE = """
import pathlib, time, trainwire
run = trainwire.init(name="live", system_metrics=False, capture_console=False)
step = 0
while not pathlib.Path("stop").exists():
    run.log({"loss": 1.0 / (step + 1)})
    step += 1
    time.sleep(0.02)
run.alert("done", "stopping", level="info")
run.finish()
"""


def _events(response: http.client.HTTPResponse) -> Any:
    """Yield (event, data) pairs from a text/event-stream response."""
    event, data = None, []
    while line := response.readline():
        text = line.decode().rstrip("\n")
        if text.startswith("event: "):
            event = text[7:]
        elif text.startswith("data: "):
            data.append(text[6:])
        elif not text and event:
            yield event, json.loads("".join(data))
            event, data = None, []


def test_stream_sends_points_events_and_the_end_of_a_live_run(
    tmp_path: Path, ui_server: Any
) -> None:
    """GET /stream: the run, then new points and events as they land, then `end`."""
    (tmp_path / "train.py").write_text(LIVE)
    db = tmp_path / "trainwire.db"
    env = {**clean_environment(), "TRAINWIRE_DB": str(db), "TRAINWIRE_DIR": str(tmp_path / "r")}
    training = subprocess.Popen([sys.executable, "train.py"], cwd=tmp_path, env=env)
    try:
        assert wait_for(lambda: db.exists() and _has_run(db), timeout_s=30)
        with ui_server(db) as served:
            run_id = served.run_ids["live"]
            conn = http.client.HTTPConnection(served.url.removeprefix("http://"), timeout=60)
            conn.request("GET", f"/api/runs/{run_id}/stream?interval_s=0.05")
            response = conn.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Type") == "text/event-stream"
            seen: dict[str, list[Any]] = {}
            for event, data in _events(response):
                seen.setdefault(event, []).append(data)
                if event == "metrics" and len(seen["metrics"]) == 2:
                    (tmp_path / "stop").write_text("")
                if event == "end":
                    break
            conn.close()
    finally:
        (tmp_path / "stop").write_text("")
        training.wait(timeout=60)
    assert seen["run"][0]["id"] == run_id and seen["run"][0]["status"] == "running"
    steps = [p["step"] for batch in seen["metrics"] for p in batch["points"] if p["key"] == "loss"]
    assert steps and steps == sorted(steps) and len(set(steps)) == len(steps)
    names = [e["name"] for batch in seen.get("events", []) for e in batch["events"]]
    assert "ml.alert" in names and "ml.run.end" in names
    assert seen["end"][0]["status"] == "completed"


def _has_run(db: Path) -> bool:
    with RunQuery(db) as query:
        return query.list_runs()["total"] == 1


ARTIFACT = """
import trainwire
run = trainwire.init(name="art", system_metrics=False, capture_console=False)
run.log_text("precious bytes " * 100, "weights/model.txt")
run.finish()
"""


@pytest.fixture
def stored_artifact(tmp_path: Path) -> tuple[Path, str, Path]:
    """A store with one artifact; (db, run id, blob path)."""
    (tmp_path / "art.py").write_text(ARTIFACT)
    db = tmp_path / "trainwire.db"
    env = {**clean_environment(), "TRAINWIRE_DB": str(db), "TRAINWIRE_DIR": str(tmp_path / "r")}
    subprocess.run([sys.executable, "art.py"], cwd=tmp_path, env=env, check=True, timeout=60)
    with RunQuery(db) as query:
        run_id = query.resolve("art")
        meta, blob = query.artifact(run_id, "weights/model.txt")
        assert query.read_artifact(run_id, "weights/model.txt") == b"precious bytes " * 100
    return db, run_id, blob


def test_corrupted_blob_is_refused_on_read(
    stored_artifact: tuple[Path, str, Path], ui_server: Any
) -> None:
    """Bytes changed on disk after commit: the API answers a JSON error, the reader raises."""
    db, run_id, blob = stored_artifact
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[5] ^= 0xFF  # same size, one byte flipped
    blob.write_bytes(bytes(data))
    with RunQuery(db) as query, pytest.raises(CorruptArtifactError, match="does not match"):
        query.read_artifact(run_id, "weights/model.txt")
    with ui_server(db) as served:
        status, body, _ = served.get(f"/api/runs/{run_id}/artifacts/weights/model.txt")
    assert status == 500 and "does not match its sha256" in body["error"]


def test_missing_blob_is_a_404_saying_so(
    stored_artifact: tuple[Path, str, Path], ui_server: Any
) -> None:
    """The artifact is recorded but its blob is gone from the artifact store."""
    db, run_id, blob = stored_artifact
    blob.unlink()
    with ui_server(db) as served:
        status, body, _ = served.get(f"/api/runs/{run_id}/artifacts/weights/model.txt")
    assert status == 404 and "is missing from" in body["error"]
