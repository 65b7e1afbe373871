"""OTLP/gRPC against an in-process receiver: traces, backpressure, partial success, telemetry."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
import requests
from google.rpc import code_pb2, error_details_pb2, status_pb2

from trainwire.collector.component import Signal
from trainwire.collector.receivers.otlp.signals import SIGNALS
from trainwire.errors import PermanentExportError, RetryableExportError

BOTH = {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}, "http": {"endpoint": "127.0.0.1:0"}}}


def _export(target: str, signal: Signal, request: Any, **kwargs: Any) -> Any:
    spec = SIGNALS[signal]
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(
            f"/{spec.service}/Export",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=spec.response_type.FromString,
        )
        return call(request, timeout=10, **kwargs)


@pytest.fixture
def both(start_receiver: Any) -> Any:
    """A receiver serving OTLP over gRPC and HTTP."""
    return start_receiver(BOTH)


def test_trace_service_takes_spans(both: Any, otlp: Any) -> None:
    """TraceService/Export hands the spans to the traces pipeline and answers an empty response."""
    request = otlp.traces()

    response = _export(both.grpc_target, Signal.TRACES, request)

    assert not response.HasField("partial_success")
    assert both.sink.requests == [request]


def test_backpressure_is_unavailable_with_retry_info(both: Any, otlp: Any) -> None:
    """A pipeline that cannot take a request now makes the call UNAVAILABLE with RetryInfo."""
    both.sink.failure = RetryableExportError("queue full", retry_after_s=1.5)

    with pytest.raises(grpc.RpcError) as info:
        _export(both.grpc_target, Signal.METRICS, otlp.metrics())

    error: Any = info.value
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    retry = error_details_pb2.RetryInfo()
    assert status.code == code_pb2.UNAVAILABLE and status.details[0].Unpack(retry)
    assert (retry.retry_delay.seconds, retry.retry_delay.nanos) == (1, 500_000_000)


def test_permanent_refusal_is_a_partial_success(both: Any, otlp: Any) -> None:
    """A request refused for good is answered OK with partial_success counting its spans."""
    both.sink.failure = PermanentExportError("no traces today")

    response = _export(both.grpc_target, Signal.TRACES, otlp.traces())

    assert response.partial_success.rejected_spans == 1
    assert response.partial_success.error_message == "no traces today"


def test_gzip_bomb_is_refused_resource_exhausted(both: Any, otlp: Any) -> None:
    """A gzip-compressed call that inflates past max_recv_msg_size_mib gets RESOURCE_EXHAUSTED."""
    request = otlp.logs(body="\x00" * (32 << 20))

    with pytest.raises(grpc.RpcError) as info:
        _export(both.grpc_target, Signal.LOGS, request, compression=grpc.Compression.Gzip)

    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    assert _export(both.grpc_target, Signal.LOGS, otlp.logs()) is not None


def _counts(host: Any, name: str) -> dict[str, float]:
    return {
        s.labels["transport"]: s.value
        for s in host.telemetry.collect()
        if s.name == name and s.labels["receiver"] == "otlp"
    }


def test_telemetry_counts_accepted_and_refused_items_per_transport(both: Any, otlp: Any) -> None:
    """Accepted and refused points, records and spans are counted per receiver and transport."""
    two_points = otlp.metrics()
    two_points.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points.add(as_double=1)
    _export(both.grpc_target, Signal.METRICS, two_points)
    _export(both.grpc_target, Signal.TRACES, otlp.traces())
    body = otlp.logs().SerializeToString()
    headers = {"Content-Type": "application/x-protobuf"}
    assert requests.post(both.http_url + "/v1/logs", data=body, headers=headers).ok
    both.sink.failure = RetryableExportError("full")
    assert requests.post(both.http_url + "/v1/logs", data=body, headers=headers).status_code == 503
    with pytest.raises(grpc.RpcError):
        _export(both.grpc_target, Signal.METRICS, otlp.metrics())

    host = both.host
    assert _counts(host, "otelcol_receiver_accepted_metric_points") == {"grpc": 2, "http": 0}
    assert _counts(host, "otelcol_receiver_refused_metric_points") == {"grpc": 1, "http": 0}
    assert _counts(host, "otelcol_receiver_accepted_log_records") == {"grpc": 0, "http": 1}
    assert _counts(host, "otelcol_receiver_refused_log_records") == {"grpc": 0, "http": 1}
    assert _counts(host, "otelcol_receiver_accepted_spans") == {"grpc": 1, "http": 0}
    assert _counts(host, "otelcol_receiver_refused_spans") == {"grpc": 0, "http": 0}


def test_malformed_requests_are_not_counted(both: Any) -> None:
    """A request that does not decode is the sender's error, not a refusal by the pipeline."""
    with grpc.insecure_channel(both.grpc_target) as channel:
        call = channel.unary_unary(f"/{SIGNALS[Signal.LOGS].service}/Export")
        with pytest.raises(grpc.RpcError):
            call(b"\xff\xff", timeout=10)

    assert _counts(both.host, "otelcol_receiver_refused_log_records") == {"grpc": 0, "http": 0}
