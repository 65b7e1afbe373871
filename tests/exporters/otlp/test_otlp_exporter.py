"""The otlp (gRPC) exporter: forwards to a real collector process; classifies failures as OTLP says."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire import semconv
from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.exporterhelper import QueueConfig, RetryConfig
from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.exporters.otlp import OtlpExporter, OtlpExporterConfig, TlsConfig, factory
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import CollectorProcess

T = TypeVar("T")
FAST_RETRY = RetryConfig(initial_interval_s=0.05, max_interval_s=0.2, max_elapsed_time_s=0)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


def config(endpoint: str, **settings: Any) -> OtlpExporterConfig:
    settings.setdefault("tls", TlsConfig(insecure=True))
    settings.setdefault("sending_queue", QueueConfig(storage="storage", drain_timeout_s=5))
    settings.setdefault("retry_on_failure", FAST_RETRY)
    return OtlpExporterConfig(endpoint=endpoint, **settings)


def test_forwards_metrics_and_run_events_to_a_second_collector(
    tmp_path: Path, host: Any, wire: Any
) -> None:
    """Metrics and events queued at one collector arrive in a second collector's run store."""
    with CollectorProcess(tmp_path / "gateway") as gateway:
        exporter = factory.create(config(gateway.endpoint), id=ComponentID("otlp"))

        async def scenario() -> None:
            await exporter.start(host)
            await exporter.consume_metrics(wire.metrics(0.9, 0.5, 0.25))
            await exporter.consume_logs(
                wire.events(
                    (semconv.EVENT_RUN_START, {"name": "sidecar-run", "experiment": "mnist"}),
                    (semconv.EVENT_RUN_END, {"status": "completed", "exit_code": 0}),
                )
            )
            while exporter.queue.size:
                await asyncio.sleep(0.02)
            await exporter.shutdown()

        run(scenario())
        assert exporter.blocks_ingestion is False
        sent = host.telemetry.counter(
            "otelcol_exporter_sent_metric_points", "", ("exporter",)
        ).value(exporter="otlp")
        assert sent == 6  # three loss points and three ml.step points
        gateway.stop()
    with StoreReader(gateway.db_path) as store:
        [record] = store.runs()
        assert (record.run_id, record.name, record.status) == ("run-1", "sidecar-run", "completed")
        assert [value for _, _, value in store.points("run-1", "loss")] == [0.9, 0.5, 0.25]


def test_headers_compression_and_every_signal_reach_the_next_hop(
    host: Any, wire: Any, hop: Any, serve_hop: Any
) -> None:
    """Configured headers arrive as gRPC metadata with each request; metrics, logs and traces use their services."""
    traces = ExportTraceServiceRequest()
    traces.resource_spans.add().scope_spans.add().spans.add(name="step", trace_id=b"1" * 16)

    async def scenario() -> None:
        async with serve_hop(hop):
            cfg = config(hop.endpoint, headers={"Authorization": "Bearer t0k"}, compression="gzip")
            pusher = OtlpExporter(cfg, id=ComponentID("otlp"))
            await pusher.start(host)
            await pusher.push(Signal.METRICS, wire.metrics(1.0))
            await pusher.push(Signal.LOGS, wire.events((semconv.EVENT_ALERT, {"title": "x"})))
            await pusher.push(Signal.TRACES, traces)
            await pusher.shutdown()
            await pusher.shutdown()

    run(scenario())
    assert [len(hop.requests[s]) for s in Signal] == [1, 1, 1]
    assert hop.requests[Signal.TRACES][0] == traces
    assert all(m["authorization"] == "Bearer t0k" for m in hop.metadata)


@pytest.mark.parametrize(
    ("failure", "verdict", "retry_after"),
    [
        ((grpc.StatusCode.UNAVAILABLE, "down", None), RetryableExportError, None),
        ((grpc.StatusCode.UNAVAILABLE, "busy", 3.0), RetryableExportError, 3.0),
        ((grpc.StatusCode.DEADLINE_EXCEEDED, "slow", None), RetryableExportError, None),
        ((grpc.StatusCode.RESOURCE_EXHAUSTED, "full", 2.0), RetryableExportError, 2.0),
        ((grpc.StatusCode.RESOURCE_EXHAUSTED, "too big", None), PermanentExportError, None),
        ((grpc.StatusCode.INVALID_ARGUMENT, "bad", None), PermanentExportError, None),
        ((grpc.StatusCode.UNAUTHENTICATED, "who?", None), PermanentExportError, None),
    ],
    ids=lambda v: v[0].name + (f"+{v[2]}" if v[2] else "") if isinstance(v, tuple) else None,
)
def test_failures_are_classified_as_otlp_says(
    host: Any, wire: Any, hop: Any, serve_hop: Any, failure: Any, verdict: type, retry_after: Any
) -> None:
    """Retryable codes (and RESOURCE_EXHAUSTED with RetryInfo) raise Retryable with the server's delay; others Permanent."""
    hop.failures.append(failure)

    async def scenario() -> Exception:
        async with serve_hop(hop):
            pusher = OtlpExporter(config(hop.endpoint), id=ComponentID("otlp"))
            await pusher.start(host)
            try:
                with pytest.raises(Exception) as info:
                    await pusher.push(Signal.METRICS, wire.metrics(1.0))
                await pusher.push(Signal.METRICS, wire.metrics(2.0))  # the next one goes through
                return info.value
            finally:
                await pusher.shutdown()

    error = run(scenario())
    assert type(error) is verdict
    assert failure[1] in str(error)
    assert getattr(error, "retry_after_s", None) == retry_after
    assert len(hop.requests[Signal.METRICS]) == 1


def test_unreachable_next_hop_is_retryable(host: Any, wire: Any) -> None:
    """A next hop nobody listens on is a retryable failure, not a dropped request."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        pusher = OtlpExporter(config(f"127.0.0.1:{port}", timeout_s=2), id=ComponentID("otlp"))
        await pusher.start(host)
        with pytest.raises(RetryableExportError):
            await pusher.push(Signal.METRICS, wire.metrics(1.0))
        await pusher.shutdown()

    run(scenario())


def test_request_over_the_message_limit_is_split_and_all_of_it_arrives(
    host: Any, wire: Any, hop: Any, serve_hop: Any
) -> None:
    """A merged request larger than the next hop's 4 MiB limit goes as several requests; every point arrives once."""
    request = ExportMetricsServiceRequest()
    for run_index in range(60):
        request.MergeFrom(wire.metrics(*[float(i) for i in range(2000)], run_id=f"run-{run_index}"))
    assert request.ByteSize() > 4 * 1024 * 1024

    async def scenario() -> None:
        async with serve_hop(hop):
            pusher = OtlpExporter(config(hop.endpoint, compression="none"), id=ComponentID("otlp"))
            await pusher.start(host)
            await pusher.push(Signal.METRICS, request)
            await pusher.shutdown()

    run(scenario())
    received = hop.requests[Signal.METRICS]
    assert len(received) > 1
    merged = ExportMetricsServiceRequest()
    for part in received:
        merged.MergeFrom(part)
    assert merged == request


def test_partial_success_is_logged_and_not_retried(
    host: Any, wire: Any, hop: Any, serve_hop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A response reporting rejected points is a warning, and the request is not sent again."""
    response = ExportMetricsServiceResponse()
    response.partial_success.rejected_data_points = 1
    response.partial_success.error_message = "NaN not accepted"
    hop.partial_success[Signal.METRICS] = response

    async def scenario() -> None:
        async with serve_hop(hop):
            pusher = OtlpExporter(config(hop.endpoint), id=ComponentID("otlp"))
            await pusher.start(host)
            await pusher.push(Signal.METRICS, wire.metrics(1.0))
            await pusher.shutdown()

    with caplog.at_level(logging.WARNING):
        run(scenario())
    assert len(hop.requests[Signal.METRICS]) == 1
    assert "rejected 1 metrics items: NaN not accepted" in caplog.text


def test_queued_exporter_retries_until_the_next_hop_recovers(
    host: Any, wire: Any, hop: Any, serve_hop: Any
) -> None:
    """Behind its queue the exporter keeps a request through UNAVAILABLE answers and delivers it once the hop recovers."""
    hop.failures.extend([(grpc.StatusCode.UNAVAILABLE, "restarting", None)] * 3)

    async def scenario() -> None:
        async with serve_hop(hop):
            exporter = factory.create(config(hop.endpoint), id=ComponentID("otlp", "gw"))
            await exporter.start(host)
            await exporter.consume_logs(wire.events((semconv.EVENT_RUN_END, {"status": "failed"})))
            while not hop.requests[Signal.LOGS]:
                await asyncio.sleep(0.02)
            await exporter.shutdown()

    run(scenario())
    assert len(hop.metadata) == 4 and len(hop.requests[Signal.LOGS]) == 1
