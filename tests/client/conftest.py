"""A run store written by real runs, read through a Client on the file and on the HTTP API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trainwire
from trainwire.testing import CollectorProcess, free_port, wait_for

MODEL_BYTES = b"weights" * 50_000  # 350 kB: several download chunks

API_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc_port}
    artifacts:
      directory: {blobs}
exporters:
  sqlite:
    path: {{db_path}}
    sending_queue:
      enabled: false
    api:
      endpoint: 127.0.0.1:{port}
      artifacts_directory: {blobs}
      {token_line}
service:
  pipelines:
    metrics: {{{{receivers: [otlp], exporters: [sqlite]}}}}
    logs: {{{{receivers: [otlp], exporters: [sqlite]}}}}
"""


def log_runs(directory: Path, **where: str) -> dict[str, str]:
    """Three finished runs (alpha, beta failed, gamma) logged by the SDK; name -> run id.

    ``where`` is ``db_path=...`` (the embedded store) or ``endpoint=...`` (a collector).
    """
    model = directory / "model.bin"
    model.write_bytes(MODEL_BYTES)
    options = {"capture_pip": False, "system_metrics": False, "capture_console": False, **where}
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
        run.alert("loss is NaN", "at step 5", level="warn")
        run.log_histogram("weights", [0.5, 1.0, 1.0, 2.0], step=5)
        run.log_text("hello", "notes.txt")
        run.log_artifact(model, "ckpt/model.bin")
        ids["alpha"] = run.id
    with (
        pytest.raises(KeyError),
        trainwire.init(name="beta", experiment="nlp", config={"lr": 0.5}, **options) as run,  # type: ignore[arg-type]
    ):
        ids["beta"] = run.id
        run.log({"loss": 3.0}, step=0)
        run.log_artifact(model, "model.bin")  # the same bytes: one blob, two runs
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


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory for the module's runs (their local spools included)."""
    directory = tmp_path_factory.mktemp("runs")
    saved = os.environ.get("TRAINWIRE_DIR")
    os.environ["TRAINWIRE_DIR"] = str(directory / "trainwire-runs")
    yield directory
    if saved is None:
        os.environ.pop("TRAINWIRE_DIR", None)
    else:
        os.environ["TRAINWIRE_DIR"] = saved


class Served:
    """A collector that stored the runs of :func:`log_runs` and serves the query API."""

    def __init__(self, collector: CollectorProcess, port: int, ids: dict[str, str], token: str):
        self.collector = collector
        self.url = f"http://127.0.0.1:{port}"
        self.db_path = collector.db_path
        self.blobs = collector.directory / "blobs"
        self.ids = ids
        self.token = token
        self.model_bytes = MODEL_BYTES


def serve(directory: Path, *, token: str = "", grpc_port: int = 0) -> Iterator[Served]:
    """Start a collector with the API on, log the runs through it, and yield it."""
    port = free_port()
    blobs = directory / "collector" / "blobs"
    config = API_CONFIG.format(
        blobs=blobs,
        port=port,
        grpc_port=grpc_port,
        token_line=f"read_token: {token}" if token else "",
    )
    with CollectorProcess(directory / "collector", config=config) as collector:
        ids = log_runs(directory, endpoint=collector.endpoint)
        with trainwire.Client(collector.db_path, artifacts_dir=blobs) as local:
            assert wait_for(
                lambda: len(local.runs()) == 3 and len(local.artifacts(ids["alpha"])) == 2,
                timeout_s=30,
            )
        yield Served(collector, port, ids, token)


@pytest.fixture(scope="module")
def served(runs_dir: Path) -> Iterator[Served]:
    """The runs in a collector's store, with its query API on a loopback port."""
    yield from serve(runs_dir)


@pytest.fixture(scope="module")
def guarded(runs_dir: Path) -> Iterator[Served]:
    """Like ``served``, but the API needs the read token ``s3cret-read-token``."""
    yield from serve(runs_dir, token="s3cret-read-token")


@pytest.fixture(scope="module")
def restartable(runs_dir: Path) -> Iterator[Served]:
    """Like ``served``, on fixed ports, so the SDK finds it again after a restart."""
    yield from serve(runs_dir, grpc_port=free_port())


@pytest.fixture(params=["path", "url"])
def client(request: pytest.FixtureRequest, served: Served) -> Iterator[trainwire.Client]:
    """A Client on the collector's store file, then one on its URL: the same data."""
    if request.param == "path":
        target = trainwire.Client(served.db_path, artifacts_dir=served.blobs)
    else:
        target = trainwire.Client(served.url)
    with target:
        yield target


@pytest.fixture(scope="module")
def log_runs_fn() -> Any:
    """:func:`log_runs`, for test modules (conftest is not importable from them)."""
    return log_runs
