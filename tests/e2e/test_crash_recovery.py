"""Acknowledged means durable: a collector killed with SIGKILL under load loses nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from trainwire.exporters.sqlite.query import RunQuery
from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess, free_port

SENDERS = 4
BATCHES = 500
POINTS = 250

SENDER = """
import sys, time
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue, AnyValue
from trainwire.transports.grpc import GrpcTransport
from trainwire.errors import RetryableExportError

endpoint, sender, batches, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
transport = GrpcTransport(endpoint)
total = 0.0
for b in range(batches):
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.append(KeyValue(key="ml.run.id", value=AnyValue(string_value=f"sender-{sender}")))
    metric = rm.scope_metrics.add().metrics.add(name="v")
    for p in range(points):
        value = float(sender * 1_000_000 + b * points + p)
        metric.gauge.data_points.add(time_unix_nano=1_000_000 + b * points + p, as_double=value)
        total += value
    deadline = time.monotonic() + 90
    while True:
        try:
            transport.export_metrics(request, timeout_s=5)
            break
        except RetryableExportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
print(total)
"""


def test_sigkill_under_load_then_restart_stores_every_acknowledged_point_once(
    tmp_path: Path,
) -> None:
    """Four concurrent senders, the collector SIGKILLed twice and restarted: the store holds every point exactly once."""
    port = free_port()
    config = DEFAULT_TEST_CONFIG.replace("127.0.0.1:0", f"127.0.0.1:{port}")
    collector = CollectorProcess(tmp_path / "collector", config=config)
    collector.start()
    script = tmp_path / "sender.py"
    script.write_text(SENDER)
    senders = [
        subprocess.Popen(
            [sys.executable, str(script), f"127.0.0.1:{port}", str(k), str(BATCHES), str(POINTS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(SENDERS)
    ]
    try:
        for _ in range(2):
            time.sleep(0.4)
            collector.kill()
            # The kill must land mid-load, or this test proves nothing.
            assert all(s.poll() is None for s in senders), "senders finished before the kill"
            time.sleep(0.3)
            collector.start()
        outputs = [s.communicate(timeout=120) for s in senders]
    finally:
        for s in senders:
            s.kill()
    for sender, (_, err) in zip(senders, outputs, strict=True):
        assert sender.returncode == 0, err
    assert collector.stop() == 0

    with RunQuery(collector.db_path) as query:
        stored = {
            f"sender-{k}": query.metrics(f"sender-{k}", key="v")["metrics"][0]["value"]
            for k in range(SENDERS)
        }
    assert {run: len(values) for run, values in stored.items()} == {
        f"sender-{k}": BATCHES * POINTS for k in range(SENDERS)
    }
    assert all(len(set(values)) == len(values) for values in stored.values())
    stored_sum = sum(sum(values) for values in stored.values())
    sent_sum = sum(float(out) for out, _ in outputs)
    assert stored_sum == sent_sum
