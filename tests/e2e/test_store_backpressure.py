"""When the store cannot write, receivers push back; nothing acknowledged is lost."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import grpc
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess, wait_for

METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
SMALL_QUEUE = DEFAULT_TEST_CONFIG.replace(
    "      storage: storage\n",
    "      storage: storage\n      queue_size: 5\n    retry_on_failure:\n      initial_interval_s: 0.05\n"
    "      max_interval_s: 0.2\n      max_elapsed_time_s: 0\n",
)


def _request(i: int) -> bytes:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="v")
    metric.gauge.data_points.add(time_unix_nano=1_000 + i, as_double=float(i))
    return request.SerializeToString()


def _retry_delay(error: grpc.RpcError) -> float | None:
    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.RetryInfo()
                if detail.Unpack(info):
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def test_locked_store_fills_the_queue_then_pushes_back_and_recovers(tmp_path: Path) -> None:
    """With the store locked, requests are acknowledged until the queue is full, then refused with RetryInfo; all acknowledged data is stored after the lock is released."""
    with CollectorProcess(tmp_path / "c", config=SMALL_QUEUE) as collector:
        call = grpc.insecure_channel(collector.endpoint).unary_unary(METHOD)
        call(_request(0), timeout=10)  # creates the store
        assert wait_for(lambda: collector.db_path.exists(), 10)
        blocker = sqlite3.connect(collector.db_path, timeout=1, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the store's write lock
        acknowledged = [0]
        refused: grpc.RpcError | None = None
        for i in range(1, 50):
            try:
                call(_request(i), timeout=10)
                acknowledged.append(i)
            except grpc.RpcError as exc:
                refused = exc
                break
        assert refused is not None, "the collector never pushed back"
        assert refused.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        assert "queue full" in refused.details()  # type: ignore[attr-defined]
        delay = _retry_delay(refused)
        assert delay is not None and delay > 0
        assert len(acknowledged) <= 7  # bounded by queue_size (5), plus what was being written
        blocker.execute("ROLLBACK")
        blocker.close()

        def stored() -> list[float]:
            with sqlite3.connect(collector.db_path, timeout=5) as conn:
                return [r[0] for r in conn.execute("SELECT value FROM points ORDER BY time")]

        assert wait_for(lambda: len(stored()) == len(acknowledged), 20)
        assert stored() == [float(i) for i in acknowledged]
        time.sleep(0.1)
        call(_request(99), timeout=10)  # serving normally again
