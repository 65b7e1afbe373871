"""The collector's store writer runs in a child process: killed, it comes back, and nothing
acknowledged is lost; the collector killed, it goes away."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import grpc
import psutil
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire.collector.components import default_factories
from trainwire.collector.config import load_config
from trainwire.errors import ConfigError
from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess, wait_for

METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


def _request(i: int) -> bytes:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="v")
    metric.gauge.data_points.add(time_unix_nano=1_000 + i, as_double=float(i))
    return request.SerializeToString()


def _stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM points").fetchone()[0])


def _writer(collector: CollectorProcess) -> psutil.Process:
    assert collector.process is not None
    children = psutil.Process(collector.process.pid).children()
    writers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
    assert len(writers) == 1, [c.cmdline() for c in children]
    return writers[0]


def test_killed_writer_process_is_restarted_and_nothing_acknowledged_is_lost(
    tmp_path: Path,
) -> None:
    with CollectorProcess(tmp_path / "c") as collector:
        call = grpc.insecure_channel(collector.endpoint).unary_unary(METHOD)
        for i in range(50):
            call(_request(i), timeout=10)
        assert wait_for(lambda: _stored(collector.db_path) == 50, 15)
        first = _writer(collector)
        os.kill(first.pid, signal.SIGKILL)
        for i in range(50, 200):
            call(_request(i), timeout=10)  # acknowledged: on disk in the queue
        assert wait_for(lambda: _stored(collector.db_path) == 200, 30), collector.output[-10:]
        assert _writer(collector).pid != first.pid
        assert "store writer process died" in "".join(collector.output)


def test_writer_process_exits_when_the_collector_is_killed(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "c").start()
    try:
        grpc.insecure_channel(collector.endpoint).unary_unary(METHOD)(_request(0), timeout=10)
        writer = _writer(collector)
    finally:
        collector.kill()
    assert wait_for(lambda: not writer.is_running() or writer.status() == "zombie", 15)


def test_writer_thread_when_configured(tmp_path: Path) -> None:
    config = DEFAULT_TEST_CONFIG.replace(
        "    path: {db_path}\n", "    path: {db_path}\n    writer_process: false\n"
    )
    with CollectorProcess(tmp_path / "c", config=config) as collector:
        grpc.insecure_channel(collector.endpoint).unary_unary(METHOD)(_request(0), timeout=10)
        assert wait_for(lambda: _stored(collector.db_path) == 1, 15)
        assert collector.process is not None
        children = psutil.Process(collector.process.pid).children()
        assert not [c for c in children if "spawn_main" in " ".join(c.cmdline())]


def test_not_a_store_stops_the_start_with_the_reason(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "c")
    collector.db_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RuntimeError, match="did not start"):
        collector.start()
    output = "".join(collector.output)
    assert "exporters::sqlite::path: cannot open the run store" in output
    assert "file is not a database" in output
    assert "Traceback" not in output
    assert collector.process is not None and collector.process.returncode == 1


def test_lease_needs_the_writer_thread(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}}\n"
        "exporters: {sqlite: {path: x.db, lease_s: 30}}\n"
        "service: {pipelines: {metrics: {receivers: [otlp], exporters: [sqlite]}}}\n"
    )
    with pytest.raises(ConfigError, match="writer_process: false"):
        load_config(path, default_factories())
