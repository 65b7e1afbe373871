"""The query API served two real ways: by a collector process and by ``trainwire ui``.

Both serve a store written by the real SDK in a training subprocess (through the
collector's OTLP port, or the embedded default), so every endpoint test runs against each.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from trainwire.testing import CollectorProcess, clean_environment, free_port, wait_for

TOKEN = "s3cret-read-token"

TRAINING = """
import math, sys, trainwire
run = trainwire.init(name=sys.argv[1], experiment="vision",
                     config={"lr": float(sys.argv[2]), "model": {"depth": 18, "act": "relu"}},
                     tags=["baseline"], system_metrics=False, capture_console=False)
run.define_metric("val_loss", goal="min")
for step in range(40):
    odd = {3: math.nan, 4: math.inf, 5: -math.inf}.get(step, float(step))
    run.log({"loss": 1.0 / (step + 1), "val_loss": 2.0 / (step + 1), "odd": odd})
run.log_histogram("weights", [0.5, 1.0, 1.0, 2.0], step=39)
meter = run.meter_provider().get_meter("app")
meter.create_histogram("app.batch_ms", unit="ms").record(12.5, {"device": "cuda:0"})
run.set_tag("team", "rl")
run.summary({"val_acc": float(sys.argv[3])})
run.log_text("hello from " + sys.argv[1], "notes/readme.txt")
run.alert("plateau", "loss stopped improving", level="warn")
run.finish()
"""
RUNS = (("alpha", "0.001", "0.95"), ("beta", "0.1", "0.80"))


@dataclass
class Served:
    """A running API and the runs in its store."""

    kind: str
    url: str
    db_path: Path
    run_ids: dict[str, str]
    token: str | None = TOKEN
    log: list[str] = field(default_factory=list)
    """The serving process's output lines (the collector's)."""

    def get(self, path: str, *, token: str | None = "default") -> tuple[int, Any, dict[str, str]]:
        """GET ``path``; return (status, body parsed as JSON when it is JSON, headers)."""
        request = urllib.request.Request(self.url + path)
        given = self.token if token == "default" else token
        if given:
            request.add_header("Authorization", f"Bearer {given}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, data, headers = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, data, headers = exc.code, exc.read(), dict(exc.headers)
        if headers.get("Content-Type", "").startswith("application/json"):
            return status, json.loads(data), headers
        return status, data, headers


def train(directory: Path, env: dict[str, str]) -> None:
    """Run the training script once per run in RUNS, in real subprocesses."""
    script = directory / "train.py"
    script.write_text(TRAINING)
    for args in RUNS:
        subprocess.run(
            [sys.executable, str(script), *args],
            cwd=directory,
            env={**clean_environment(), "TRAINWIRE_DIR": str(directory / "runs"), **env},
            check=True,
            timeout=120,
            capture_output=True,
        )


def _run_ids(db_path: Path) -> dict[str, str]:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        return dict(conn.execute("SELECT name, run_id FROM runs").fetchall())


API_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
    artifacts:
      directory: {data_dir}/artifacts
exporters:
  sqlite:
    path: {db_path}
    sending_queue:
      storage: storage
    api:
      endpoint: 127.0.0.1:%d
      read_token: %s
      artifacts_directory: {data_dir}/artifacts
extensions:
  storage:
    directory: {data_dir}
service:
  extensions: [storage]
  pipelines:
    metrics: {{receivers: [otlp], exporters: [sqlite]}}
    logs: {{receivers: [otlp], exporters: [sqlite]}}
"""


@pytest.fixture(scope="module")
def collector_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A collector process serving the API (with a read token) over what it stored."""
    directory = tmp_path_factory.mktemp("collector")
    port = free_port()
    with CollectorProcess(directory / "collector", config=API_CONFIG % (port, TOKEN)) as process:
        train(directory, {"TRAINWIRE_ENDPOINT": process.endpoint})
        served = Served("collector", f"http://127.0.0.1:{port}", process.db_path, {})
        served.log = process.output
        assert wait_for(
            lambda: (
                all(
                    r["status"] == "completed" and r["name"] in {name for name, *_ in RUNS}
                    for r in served.get("/api/runs")[1]["runs"]
                )
                and served.get("/api/runs")[1]["total"] == len(RUNS)
                and all(
                    served.get(f"/api/runs/{r['id']}/artifacts")[1]["artifacts"]
                    for r in served.get("/api/runs")[1]["runs"]
                )
            ),
            timeout_s=60,
        ), "".join(process.output[-30:])
        served.run_ids = _run_ids(process.db_path)
        yield served


@pytest.fixture(scope="module")
def ui_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``trainwire ui`` (no token) over a store the embedded default wrote."""
    directory = tmp_path_factory.mktemp("ui")
    db_path = directory / "trainwire.db"
    train(directory, {"TRAINWIRE_DB": str(db_path)})
    with serve_ui(db_path) as served:
        yield served


@contextlib.contextmanager
def serve_ui(db_path: Path, *more: str) -> Iterator[Served]:
    """``trainwire ui --db db_path`` in a real process on a free port, until the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trainwire",
            "ui",
            "--db",
            str(db_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *more,
        ],
        env=clean_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    served = Served("ui", f"http://127.0.0.1:{port}", db_path, _run_ids(db_path), token=None)

    def up() -> bool:
        try:
            return served.get("/api/openapi.json")[0] in (200, 401)
        except OSError:
            return False

    try:
        assert wait_for(up, timeout_s=30), "trainwire ui did not start"
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(params=["collector", "ui"])
def api(request: pytest.FixtureRequest) -> Served:
    """The API served by a collector, then by ``trainwire ui``."""
    fixture = "collector_api" if request.param == "collector" else "ui_api"
    served: Served = request.getfixturevalue(fixture)
    return served


@pytest.fixture
def ui_server() -> Any:
    """:func:`serve_ui`, for tests that build their own store."""
    return serve_ui
