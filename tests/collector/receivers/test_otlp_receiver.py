"""The OTLP gRPC receiver against bad input: clear errors, and it keeps serving."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess

METRICS_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def _gauge_request(name: str, value: float, time_ns: int = 1_700_000_000_000_000_000) -> bytes:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name=name)
    metric.gauge.data_points.add(time_unix_nano=time_ns, as_double=value)
    return request.SerializeToString()


def _send(endpoint: str, method: str, payload: bytes) -> bytes:
    with grpc.insecure_channel(endpoint) as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        return call(payload, timeout=10)  # type: ignore[no-any-return]


def _stored_values(db: str, name: str) -> list[float]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.value FROM points p JOIN series s ON s.id = p.series_id WHERE s.name = ?"
            " ORDER BY p.time",
            (name,),
        )
        return [r[0] for r in rows]


def test_request_with_unset_resource_is_stored_as_anonymous(collector: CollectorProcess) -> None:
    """A metrics request without a resource is accepted and stored with an empty, run-less resource."""
    response = ExportMetricsServiceResponse.FromString(
        _send(collector.endpoint, METRICS_METHOD, _gauge_request("temperature", 21.5))
    )
    assert not response.HasField("partial_success")
    collector.stop()
    assert _stored_values(str(collector.db_path), "temperature") == [21.5]
    with sqlite3.connect(collector.db_path) as conn:
        assert conn.execute("SELECT run_id, attributes FROM resources").fetchall() == [(None, "{}")]


@pytest.mark.parametrize("method", [METRICS_METHOD, LOGS_METHOD])
@pytest.mark.parametrize("payload", [b"\xff\xff\xff\xff garbage", b"\x0a\x05abc"])
def test_invalid_protobuf_is_invalid_argument_and_serving_continues(
    collector: CollectorProcess, method: str, payload: bytes
) -> None:
    """A payload that is not valid protobuf gets INVALID_ARGUMENT (not INTERNAL); the next request works."""
    with pytest.raises(grpc.RpcError) as info:
        _send(collector.endpoint, method, payload)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "not a valid opentelemetry.proto.collector" in info.value.details()  # type: ignore[attr-defined]
    _send(collector.endpoint, METRICS_METHOD, _gauge_request("after", 1.0))
    collector.stop()
    assert _stored_values(str(collector.db_path), "after") == [1.0]


def test_garbage_bytes_on_the_port_leave_the_collector_serving(collector: CollectorProcess) -> None:
    """Raw non-HTTP/2 bytes on the gRPC port are dropped and the next good request is stored."""
    for garbage in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", bytes(range(256)) * 64, b"\x00" * 9):
        with socket.create_connection(("127.0.0.1", collector.port or 0), timeout=5) as sock:
            sock.sendall(garbage)
            sock.settimeout(2)
            try:
                sock.recv(1024)
            except (TimeoutError, ConnectionError):
                pass
    _send(collector.endpoint, METRICS_METHOD, _gauge_request("survivor", 2.0))
    assert collector.process is not None and collector.process.poll() is None
    collector.stop()
    assert _stored_values(str(collector.db_path), "survivor") == [2.0]


def test_oversized_request_is_refused_and_serving_continues(collector: CollectorProcess) -> None:
    """A request above max_recv_msg_size_mib (4 MiB) gets RESOURCE_EXHAUSTED; the next one works."""
    big = ExportLogsServiceRequest()
    big.resource_logs.add().scope_logs.add().log_records.add().body.string_value = "x" * (5 << 20)
    with pytest.raises(grpc.RpcError) as info:
        _send(collector.endpoint, LOGS_METHOD, big.SerializeToString())
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    _send(collector.endpoint, METRICS_METHOD, _gauge_request("small", 3.0))
    collector.stop()
    assert _stored_values(str(collector.db_path), "small") == [3.0]


def test_sigterm_exits_zero_after_storing_what_was_acknowledged(
    collector: CollectorProcess,
) -> None:
    """SIGTERM stops the collector with exit code 0 and acknowledged data is in the store."""
    for i in range(20):
        _send(collector.endpoint, METRICS_METHOD, _gauge_request("acked", float(i), 1_000 + i))
    assert collector.stop() == 0
    assert "collector stopped" in "".join(collector.output)
    assert _stored_values(str(collector.db_path), "acked") == [float(i) for i in range(20)]


def test_second_collector_on_a_taken_port_fails_clearly(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    """A collector whose port is already in use exits 1 naming the address, not sharing the port."""
    config = DEFAULT_TEST_CONFIG.replace("127.0.0.1:0", collector.endpoint)
    second = CollectorProcess(tmp_path / "second", config=config, start_timeout_s=20)
    with pytest.raises(RuntimeError, match="collector did not start"):
        second.start()
    assert second.process is not None and second.process.returncode == 1
    assert f"cannot listen on {collector.endpoint}" in "".join(second.output)
