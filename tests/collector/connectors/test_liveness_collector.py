"""Liveness end to end: a real collector process, runs that die, hang, revive and restart with it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire import semconv
from trainwire.errors import RunNotFoundError
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import CollectorProcess, wait_for

METRICS_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
TIMEOUT_S = 1.5
"""The liveness timeout of the shared collector: 4 × 0.25 s heartbeats + 0.25 s backoff, and some."""
CHECK_S = 0.1

CONFIG = """\
receivers:
  otlp:
    protocols: {{grpc: {{endpoint: "127.0.0.1:0"}}}}
exporters:
  sqlite:
    path: {db_path}
    sending_queue: {{storage: storage}}
connectors:
  liveness:
    storage: storage
    heartbeat_interval_s: INTERVAL
    sdk_max_backoff_s: INTERVAL
    heartbeat_timeout_s: TIMEOUT
    check_interval_s: CHECK
    stall_timeout_s: STALL
extensions:
  storage: {{directory: {data_dir}}}
service:
  extensions: [storage]
  pipelines:
    metrics: {{receivers: [otlp], exporters: [sqlite, liveness]}}
    logs: {{receivers: [otlp], exporters: [sqlite, liveness]}}
    logs/liveness: {{receivers: [liveness], exporters: [sqlite]}}
"""


def _config(*, interval: float, timeout: float, check: float, stall: float) -> str:
    """A CollectorProcess template with the liveness connector beside the store."""
    values = {"INTERVAL": interval, "TIMEOUT": timeout, "CHECK": check, "STALL": stall}
    text = CONFIG
    for name, value in values.items():
        text = text.replace(name, str(value))
    return text


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One collector with short liveness timeouts, shared by the tests that use their own runs."""
    config = _config(interval=0.25, timeout=TIMEOUT_S, check=CHECK_S, stall=1.0)
    with CollectorProcess(tmp_path_factory.mktemp("liveness"), config=config) as process:
        yield process


def _send(collector: CollectorProcess, request: Any) -> None:
    """Deliver one OTLP request to the collector's gRPC receiver."""
    method = METRICS_METHOD if isinstance(request, ExportMetricsServiceRequest) else LOGS_METHOD
    with grpc.insecure_channel(collector.endpoint) as channel:
        export = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        export(request.SerializeToString(), timeout=10)


def _status(db: Path, run_id: str) -> str | None:
    """The run's status in the store, or None before it arrives."""
    if not db.exists():
        return None
    with StoreReader(db) as store:
        try:
            return store.run(run_id).status
        except RunNotFoundError:
            return None


def _events(db: Path, run_id: str, name: str) -> list[tuple[str, Any]]:
    """``(uid, body)`` of the run's stored events called ``name``."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT uid, body FROM events WHERE run_id = ? AND name = ? ORDER BY time",
            (run_id, name),
        ).fetchall()
    return [(uid, json.loads(body)) for uid, body in rows]


KILLED_RUN = textwrap.dedent("""\
    import os, signal, sys
    import trainwire

    run = trainwire.init(name="doomed", endpoint=sys.argv[1])
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    run.flush()
    print(run.id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no ml.run.end: the process is simply gone
""")


def test_killed_run_becomes_crashed_within_the_timeout(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    """An SDK run killed without ml.run.end is stored crashed within heartbeat_timeout_s and a check."""
    script = tmp_path / "train.py"
    script.write_text(KILLED_RUN)
    result = subprocess.run(
        [sys.executable, str(script), collector.endpoint],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    died = time.monotonic()
    run_id = result.stdout.strip()
    assert run_id, result.stderr
    assert _status(collector.db_path, run_id) == semconv.STATUS_RUNNING

    assert wait_for(
        lambda: _status(collector.db_path, run_id) == semconv.STATUS_CRASHED,
        timeout_s=TIMEOUT_S + CHECK_S + 3.0,
    )
    assert time.monotonic() - died >= TIMEOUT_S - 0.5
    [(uid, body)] = _events(collector.db_path, run_id, semconv.EVENT_RUN_END)
    assert uid.startswith(f"liveness:{run_id}/0:")
    assert body["status"] == semconv.STATUS_CRASHED
    assert "no data from rank 0" in body["reason"]


def test_late_point_revives_a_crashed_run(collector: CollectorProcess, wire: Any) -> None:
    """A metric point arriving after the run was marked crashed sets it back to running."""
    resource = wire.resource("revived")
    _send(collector, wire.metrics(resource, time.time_ns(), 0))
    assert wait_for(
        lambda: _status(collector.db_path, "revived") == semconv.STATUS_CRASHED, timeout_s=10
    )

    _send(collector, wire.metrics(resource, time.time_ns(), 1))

    assert wait_for(
        lambda: _status(collector.db_path, "revived") == semconv.STATUS_RUNNING, timeout_s=5
    )
    with StoreReader(collector.db_path) as store:
        assert store.run("revived").end_time is None


def test_real_end_after_crash_gives_completed(collector: CollectorProcess, wire: Any) -> None:
    """The run's own ml.run.end arriving after it was marked crashed ends it completed."""
    resource = wire.resource("finished-late")
    _send(collector, wire.metrics(resource, time.time_ns(), 0))
    assert wait_for(
        lambda: _status(collector.db_path, "finished-late") == semconv.STATUS_CRASHED, timeout_s=10
    )

    end = {"status": semconv.STATUS_COMPLETED, "exit_code": 0}
    _send(collector, wire.event(resource, semconv.EVENT_RUN_END, end, time.time_ns()))

    assert wait_for(
        lambda: _status(collector.db_path, "finished-late") == semconv.STATUS_COMPLETED,
        timeout_s=5,
    )


def test_stalled_heartbeats_store_exactly_one_alert(collector: CollectorProcess, wire: Any) -> None:
    """Heartbeats whose last_log_time never moves store one "run stalled" ml.alert; the run stays running."""
    resource = wire.resource("hung")
    stuck_at = time.time_ns()
    _send(collector, wire.metrics(resource, stuck_at, 0))
    end = time.monotonic() + 3.0  # three stall timeouts
    while time.monotonic() < end:
        _send(collector, wire.heartbeat(resource, stuck_at))
        time.sleep(0.2)

    alerts = _events(collector.db_path, "hung", semconv.EVENT_ALERT)
    assert [(uid, body["title"], body["level"]) for uid, body in alerts] == [
        (f"liveness:stalled:hung/0:{stuck_at}", "run stalled", "warn")
    ]
    assert _status(collector.db_path, "hung") == semconv.STATUS_RUNNING


class _Sender(threading.Thread):
    """Sends a point of one run every 0.1 s to wherever the collector listens now."""

    def __init__(self, collector: CollectorProcess, request_of: Any) -> None:
        super().__init__(daemon=True)
        self.collector = collector
        self.request_of = request_of
        self.stopped = threading.Event()
        self.sent = 0

    def run(self) -> None:
        step = 0
        while not self.stopped.wait(0.1):
            if self.collector.port is None:
                continue
            try:
                _send(self.collector, self.request_of(step))
                self.sent += 1
            except grpc.RpcError:
                continue  # restarting: the SDK would retry too
            step += 1


def test_restart_keeps_live_runs_running_and_still_catches_a_silent_one(
    tmp_path: Path, wire: Any
) -> None:
    """Across a restart shorter than the timeout a sending run stays running; one silent from before is crashed after the grace."""
    timeout_s = 3.0
    config = _config(interval=0.5, timeout=timeout_s, check=CHECK_S, stall=0)
    with CollectorProcess(tmp_path, config=config) as collector:
        alive = wire.resource("alive")
        sender = _Sender(collector, lambda step: wire.metrics(alive, time.time_ns(), step))
        sender.start()
        _send(collector, wire.metrics(wire.resource("silent"), time.time_ns(), 0))
        time.sleep(1.0)
        assert collector.stop() == 0
        restarted = time.monotonic()
        collector.start()
        seen: set[str | None] = set()
        try:
            crashed = wait_for(
                lambda: (
                    seen.add(_status(collector.db_path, "alive"))
                    or _status(collector.db_path, "silent") == semconv.STATUS_CRASHED
                ),
                timeout_s=timeout_s + 5.0,
            )
            assert crashed
            assert time.monotonic() - restarted >= timeout_s - 0.2  # the grace, not last-seen + 3 s
            time.sleep(2 * CHECK_S)
            seen.add(_status(collector.db_path, "alive"))
        finally:
            sender.stopped.set()
            sender.join()
        assert seen == {semconv.STATUS_RUNNING}
        assert _events(collector.db_path, "alive", semconv.EVENT_RUN_END) == []
        assert sender.sent > 10


def test_storage_that_is_not_enabled_fails_start_with_its_path(tmp_path: Path) -> None:
    """A liveness storage id missing from service::extensions stops the collector with exit 1 and the key's path."""
    config = tmp_path / "otel-config.yaml"
    config.write_text(
        _config(interval=10, timeout=50, check=5, stall=300)
        .format(db_path=tmp_path / "runs.db", data_dir=tmp_path / "data")
        .replace("    storage: storage\n    heartbeat", "    storage: storage/other\n    heartbeat")
    )
    result = subprocess.run(
        [sys.executable, "-m", "trainwire", "collector", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert (
        "trainwire collector: connectors::liveness::storage: 'storage/other' is not a started"
        " storage extension" in result.stderr
    )
