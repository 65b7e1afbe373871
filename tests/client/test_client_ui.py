"""The same embedded store read as a file and through `trainwire ui`: identical answers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trainwire
from trainwire.testing import wait_for

_SERVING = re.compile(r"serving .* on (http://\S+?)/?$")


@pytest.fixture(scope="module")
def ui(runs_dir: Path, log_runs_fn: Any) -> Iterator[tuple[Path, str]]:
    """An embedded store written by real runs, and `trainwire ui` serving it."""
    db = runs_dir / "embedded.db"
    log_runs_fn(runs_dir, db_path=db)
    process = subprocess.Popen(
        [sys.executable, "-m", "trainwire", "ui", "--db", str(db), "--host", "127.0.0.1",
         "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    urls: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if match := _SERVING.search(line.strip()):
                urls.append(match.group(1))

    threading.Thread(target=read, daemon=True).start()
    try:
        assert wait_for(lambda: urls or process.poll() is not None, timeout_s=30)
        assert urls, "trainwire ui did not start"
        yield db, urls[0]
    finally:
        process.terminate()
        process.wait(30)


def _same(value: Any) -> str:
    """JSON text of a value with NaN spelled out, so NaN == NaN when comparing."""
    return json.dumps(value, sort_keys=True, default=str)


def test_file_and_url_answer_the_same(ui: tuple[Path, str]) -> None:
    """runs, run, metrics, histograms, artifacts, events and bytes match between the two."""
    db, url = ui
    with trainwire.Client(db) as local, trainwire.Client(url) as remote:
        assert _same(local.runs()) == _same(remote.runs())
        filtered = {"where": "params.lr < 0.2", "sort": "-params.lr"}
        assert _same(local.runs(**filtered)) == _same(remote.runs(**filtered))
        for ref in ("alpha", "beta", "gamma"):
            assert _same(local.run(ref)) == _same(remote.run(ref))
            assert _same(local.metrics(ref)) == _same(remote.metrics(ref))
            assert _same(local.artifacts(ref)) == _same(remote.artifacts(ref))
            assert _same(local.events(ref)) == _same(remote.events(ref))
            assert _same(local.histograms(ref)) == _same(remote.histograms(ref))
        assert [h["key"] for h in local.histograms("alpha")] == ["weights"]
        assert _same(local.metrics("alpha", "acc", max_points=2)) == _same(
            remote.metrics("alpha", "acc", max_points=2)
        )
        for name in ("notes.txt", "ckpt/model.bin"):
            assert local.get_artifact("alpha", name) == remote.get_artifact("alpha", name)
        assert remote.get_artifact("beta", "model.bin") == local.get_artifact(
            "alpha", "ckpt/model.bin"
        )
