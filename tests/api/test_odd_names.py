"""Run names with '/', spaces, '?', '#' and '%' work as {run_id} in URLs (percent-encoded),
through the API and through a Client on the URL, like artifact names with those characters."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import pytest

import trainwire

NAMES = ("sweep/lr=0.1", "a b?#%25 c", "ünï/cödé")


@pytest.fixture
def odd_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One run per odd name, each with a metric and an artifact with an odd name too."""
    monkeypatch.setenv("TRAINWIRE_DIR", str(tmp_path / "runs"))
    db = tmp_path / "odd.db"
    for index, name in enumerate(NAMES):
        with trainwire.init(name=name, db_path=db, system_metrics=False, capture_pip=False) as run:
            run.log({"loss": float(index)}, step=0)
            run.log_text(f"notes of {name}", "out dir/notes #1.txt")
    return db


def test_runs_named_with_url_characters_are_found_by_name(odd_store: Path, ui_server: Any) -> None:
    """GET /api/runs/{quoted name}/... and Client(url) both find each run by its name."""
    with ui_server(odd_store) as served, trainwire.Client(served.url) as client:
        for index, name in enumerate(NAMES):
            quoted = urllib.parse.quote(name, safe="")
            status, run, _ = served.get(f"/api/runs/{quoted}")
            assert status == 200 and run["name"] == name
            artifact = urllib.parse.quote("out dir/notes #1.txt", safe="/")
            status, data, _ = served.get(f"/api/runs/{quoted}/artifacts/{artifact}")
            assert status == 200 and data == f"notes of {name}".encode()
            assert client.run(name)["id"] == run["id"]
            assert [p["value"] for p in client.metrics(name, "loss")] == [float(index)]
            assert client.get_artifact(name, "out dir/notes #1.txt") == data
        assert {r["name"] for r in client.runs()} == set(NAMES)
