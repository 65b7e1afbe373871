"""The nvml (fake library) and hostmetrics receivers in a real collector process, into SQLite."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trainwire
from trainwire import semconv
from trainwire.collector.receivers.nvml import fake as fake_nvml
from trainwire.testing import CollectorProcess, wait_for

CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
  nvml:
    library: trainwire.collector.receivers.nvml.fake
    collection_interval_s: 0.2
  hostmetrics:
    collection_interval_s: 0.2
    scrapers: {{cpu: , memory: , process: }}
connectors:
  liveness:
    storage: storage
exporters:
  sqlite:
    path: {db_path}
    sending_queue:
      storage: storage
extensions:
  storage:
    directory: {data_dir}
service:
  extensions: [storage]
  pipelines:
    metrics: {{receivers: [otlp, nvml, hostmetrics], exporters: [sqlite, liveness]}}
    logs: {{receivers: [otlp], exporters: [sqlite, liveness]}}
    logs/liveness: {{receivers: [liveness], exporters: [sqlite]}}
"""


def series(db_path: Path) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(scope, metric name, point attributes, resource attributes) of every stored series."""
    if not db_path.exists():
        return []
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT s.scope_name, s.name, s.attributes, r.attributes"
            " FROM series s JOIN resources r ON r.id = s.resource_id"
        ).fetchall()
    return [(scope, name, json.loads(a), json.loads(r)) for scope, name, a, r in rows]


def test_gpu_and_host_metrics_reach_the_store_attributed_to_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GPU and host metrics land in SQLite under host.name; a run's GPU memory and process metrics carry its run id."""
    monkeypatch.setenv(
        fake_nvml.ENV_VAR,
        json.dumps(
            {
                "devices": [
                    {
                        "utilization_gpu": 88,
                        "processes": [{"pid": os.getpid(), "used_memory": 2**30}],
                    }
                ]
            }
        ),
    )
    host = os.uname().nodename
    with CollectorProcess(tmp_path, config=CONFIG) as collector:
        with trainwire.init(
            name="gpu-run", endpoint=collector.endpoint, system_metrics=False
        ) as run:
            run.log({"loss": 1.0}, step=1)
            run.flush()

            def attributed() -> bool:
                names = {
                    (name, a.get(semconv.ML_RUN_ID)) for _, name, a, _ in series(collector.db_path)
                }
                return {
                    (semconv.NVML_GPU_PROCESS_MEMORY_USAGE, run.id),
                    (semconv.PROCESS_MEMORY_USAGE, run.id),
                    (semconv.PROCESS_CPU_UTILIZATION, run.id),  # from the second reading on
                } <= names

            assert wait_for(attributed, timeout_s=30), "".join(collector.output[-30:])
    stored = series(collector.db_path)
    nvml = {name for scope, name, _, r in stored if scope == semconv.SCOPE_NVML}
    assert {
        semconv.HW_GPU_UTILIZATION,
        semconv.HW_GPU_MEMORY_USAGE,
        semconv.HW_GPU_MEMORY_LIMIT,
        semconv.HW_TEMPERATURE,
        semconv.HW_POWER,
        semconv.NVML_GPU_CLOCK_FREQUENCY,
        semconv.NVML_GPU_THROTTLE_ACTIVE,
        semconv.NVML_GPU_PROCESS_MEMORY_USAGE,
    } <= nvml
    host_metrics = {name for scope, name, _, _ in stored if scope == semconv.SCOPE_HOSTMETRICS}
    assert {
        semconv.SYSTEM_CPU_UTILIZATION,
        semconv.SYSTEM_MEMORY_USAGE,
        semconv.PROCESS_CPU_UTILIZATION,
    } <= host_metrics
    scraped = [
        r for scope, _, _, r in stored if scope in (semconv.SCOPE_NVML, semconv.SCOPE_HOSTMETRICS)
    ]
    assert all(r == {semconv.HOST_NAME: host} for r in scraped)
    gpu = [
        a
        for _, name, a, _ in stored
        if name == semconv.HW_GPU_UTILIZATION and a[semconv.HW_GPU_TASK] == "general"
    ]
    assert [a[semconv.HW_ID] for a in gpu] == [fake_nvml.DEFAULT_DEVICE["uuid"]]
    process_gpu = [a for _, name, a, _ in stored if name == semconv.NVML_GPU_PROCESS_MEMORY_USAGE]
    assert {a[semconv.PROCESS_PID] for a in process_gpu} == {os.getpid()}
    # Before the run's first data reached the collector, its process was not yet known.
    attributed = [a for a in process_gpu if semconv.ML_RUN_ID in a]
    assert attributed and all(a[semconv.ML_RUN_RANK] == 0 for a in attributed)


NO_GPU_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
  nvml:
    library: trainwire.collector.receivers.nvml.fake
{extra}exporters:
  sqlite:
    path: {{db_path}}
    sending_queue:
      storage: storage
extensions:
  storage:
    directory: {{data_dir}}
service:
  extensions: [storage]
  pipelines:
    metrics: {{{{receivers: [otlp, nvml], exporters: [sqlite]}}}}
"""


def test_without_a_driver_the_collector_runs_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a host without an NVIDIA driver the collector starts and logs one line about GPU metrics."""
    monkeypatch.setenv(fake_nvml.ENV_VAR, json.dumps({"init_error": "driver_not_loaded"}))
    with CollectorProcess(tmp_path, config=NO_GPU_CONFIG.format(extra="")) as collector:
        assert collector.process is not None and collector.process.poll() is None
        lines = [line for line in collector.output if "nvml receiver" in line]
    assert len(lines) == 1, lines
    assert (
        "NVML did not start (Driver Not Loaded): no NVIDIA driver on this host?; no GPU metrics"
        in lines[0]
    )


def test_without_a_driver_required_true_fails_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With required: true, a host without a driver makes the collector exit 1 with a clear error."""
    monkeypatch.setenv(fake_nvml.ENV_VAR, json.dumps({"init_error": "driver_not_loaded"}))
    config = tmp_path / "otel-config.yaml"
    config.write_text(
        NO_GPU_CONFIG.format(extra="    required: true\n").format(
            db_path=tmp_path / "store.db", data_dir=tmp_path / "data"
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "trainwire", "collector", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert (
        "trainwire collector: receivers::nvml: NVML did not start (Driver Not Loaded): no NVIDIA"
        " driver on this host?; (required: true) fix this or set required: false" in done.stderr
    )


def test_config_errors_are_named_by_path(tmp_path: Path) -> None:
    """`trainwire collector validate` names every bad receiver setting with its path."""
    config = tmp_path / "otel-config.yaml"
    config.write_text(
        "receivers:\n"
        "  nvml: {collection_interval_s: 0, libary: pynvml}\n"
        "  hostmetrics: {scrapers: {cpu: , gpu: }}\n"
        "exporters:\n"
        f"  sqlite: {{path: {tmp_path / 'store.db'}}}\n"
        "service:\n"
        "  pipelines:\n"
        "    metrics: {receivers: [nvml, hostmetrics], exporters: [sqlite]}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "trainwire", "collector", "validate", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "receivers::nvml::libary: unknown key; did you mean 'library'?" in done.stderr
    assert "receivers::hostmetrics::scrapers::gpu: unknown scraper" in done.stderr


def test_scraping_receivers_cannot_feed_logs(tmp_path: Path) -> None:
    """Putting the nvml receiver in a logs pipeline is refused at validation."""
    config = tmp_path / "otel-config.yaml"
    config.write_text(
        "receivers:\n  nvml:\n"
        f"exporters:\n  sqlite: {{path: {tmp_path / 'store.db'}}}\n"
        "service:\n  pipelines:\n    logs: {receivers: [nvml], exporters: [sqlite]}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "trainwire", "collector", "validate", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "receiver 'nvml' does not support logs" in done.stderr
