"""The otlphttp exporter against a local HTTP server: paths, headers, gzip, OTLP/HTTP failure classes."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import socket
import sqlite3
import threading
import time
from collections.abc import Awaitable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire import semconv
from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.exporterhelper import QueueConfig, RetryConfig
from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.exporters.otlp import OtlpHttpExporterConfig, http_factory
from trainwire.exporters.otlp.otlphttp import OtlpHttpExporter
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess

T = TypeVar("T")
Answer = tuple[int, dict[str, str], bytes]


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


class Backend:
    """An OTLP/HTTP server that records requests and answers from a script (then ``default``)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.answers: list[Answer] = []
        self.default: Answer = (200, {"Content-Type": "application/x-protobuf"}, b"")
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                backend.requests.append((self.path, dict(self.headers), body))
                status, headers, payload = (
                    backend.answers.pop(0) if backend.answers else backend.default
                )
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self, path: str) -> list[bytes]:
        return [body for p, _, body in self.requests if p == path]


@pytest.fixture
def backend() -> Iterator[Backend]:
    """A running Backend on a free loopback port."""
    server = Backend()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def config(endpoint: str, **settings: Any) -> OtlpHttpExporterConfig:
    settings.setdefault("sending_queue", QueueConfig(storage="storage", drain_timeout_s=2))
    settings.setdefault(
        "retry_on_failure", RetryConfig(initial_interval_s=0.05, max_interval_s=0.1)
    )
    return OtlpHttpExporterConfig(endpoint=endpoint, **settings)


def test_posts_protobuf_with_headers_and_gzip_to_each_signal_path(
    backend: Backend, host: Any, wire: Any
) -> None:
    """Each signal is POSTed as gzipped protobuf to <endpoint>/v1/<signal>, with the configured headers."""
    traces = ExportTraceServiceRequest()
    traces.resource_spans.add().scope_spans.add().spans.add(name="epoch")
    metrics, logs = wire.metrics(0.5), wire.events((semconv.EVENT_ALERT, {"title": "hi"}))

    async def scenario() -> None:
        pusher = OtlpHttpExporter(
            config(backend.url + "/", headers={"X-Api-Key": "k3y"}), id=ComponentID("otlphttp")
        )
        await pusher.start(host)
        await pusher.push(Signal.METRICS, metrics)
        await pusher.push(Signal.LOGS, logs)
        await pusher.push(Signal.TRACES, traces)
        await pusher.shutdown()
        await pusher.shutdown()

    run(scenario())
    assert [path for path, _, _ in backend.requests] == ["/v1/metrics", "/v1/logs", "/v1/traces"]
    for _, headers, _ in backend.requests:
        assert headers["Content-Type"] == "application/x-protobuf"
        assert headers["Content-Encoding"] == "gzip"
        assert headers["X-Api-Key"] == "k3y"
    assert ExportMetricsServiceRequest.FromString(backend.bodies("/v1/metrics")[0]) == metrics
    assert ExportLogsServiceRequest.FromString(backend.bodies("/v1/logs")[0]) == logs
    assert ExportTraceServiceRequest.FromString(backend.bodies("/v1/traces")[0]) == traces


def test_forwards_to_a_second_collectors_otlp_http_receiver(
    tmp_path: Path, host: Any, wire: Any
) -> None:
    """Metrics and run events sent with otlphttp land in a second collector's run store."""
    http_config = DEFAULT_TEST_CONFIG.replace(
        "      grpc:\n        endpoint: 127.0.0.1:0\n",
        "      http:\n        endpoint: 127.0.0.1:0\n",
    )
    with CollectorProcess(tmp_path / "gateway", config=http_config) as gateway:
        exporter = http_factory.create(config(gateway.http_url), id=ComponentID("otlphttp"))

        async def scenario() -> None:
            await exporter.start(host)
            await exporter.consume_metrics(wire.metrics(0.75, 0.5))
            await exporter.consume_logs(
                wire.events(
                    (semconv.EVENT_RUN_START, {"name": "via-http"}),
                    (semconv.EVENT_RUN_END, {"status": "completed"}),
                )
            )
            while exporter.queue.size:
                await asyncio.sleep(0.02)
            await exporter.shutdown()

        run(scenario())
        gateway.stop()
    with StoreReader(gateway.db_path) as store:
        [record] = store.runs()
        assert (record.name, record.status) == ("via-http", "completed")
        assert [value for _, _, value in store.points("run-1", "loss")] == [0.75, 0.5]


def _http_date(seconds_from_now: int) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(
    ("answer", "verdict", "retry_after", "message"),
    [
        ((500, {}, b"boom"), PermanentExportError, None, "HTTP 500: boom"),
        ((503, {}, b""), RetryableExportError, None, "HTTP 503"),
        ((502, {}, b"bad gateway"), RetryableExportError, None, "HTTP 502"),
        ((504, {}, b""), RetryableExportError, None, "HTTP 504"),
        ((429, {"Retry-After": "7"}, b""), RetryableExportError, 7.0, "HTTP 429"),
        (
            (429, {"Retry-After": "<http-date in 30 s>"}, b""),
            RetryableExportError,
            30.0,
            "HTTP 429",
        ),
        (
            (
                400,
                {"Content-Type": "application/x-protobuf"},
                status_pb2.Status(code=3, message="bad metric name").SerializeToString(),
            ),
            PermanentExportError,
            None,
            "HTTP 400: bad metric name",
        ),
        ((401, {}, b"no token"), PermanentExportError, None, "HTTP 401"),
        ((404, {}, b""), PermanentExportError, None, "HTTP 404: (empty body)"),
    ],
    ids=lambda v: str(v[0]) if isinstance(v, tuple) else None,
)
def test_failures_are_classified_as_the_otlp_http_spec_says(
    backend: Backend,
    host: Any,
    wire: Any,
    answer: Answer,
    verdict: type,
    retry_after: float | None,
    message: str,
) -> None:
    """429, 502, 503 and 504 are retryable (after Retry-After when given); every other 4xx/5xx is permanent."""
    status, headers, payload = answer
    if headers.get("Retry-After") == "<http-date in 30 s>":
        headers = {"Retry-After": _http_date(30)}
    backend.answers.append((status, headers, payload))

    async def scenario() -> Exception:
        pusher = OtlpHttpExporter(config(backend.url), id=ComponentID("otlphttp"))
        await pusher.start(host)
        try:
            with pytest.raises(Exception) as info:
                await pusher.push(Signal.METRICS, wire.metrics(1.0))
            return info.value
        finally:
            await pusher.shutdown()

    error = run(scenario())
    assert type(error) is verdict
    assert message in str(error)
    delay = getattr(error, "retry_after_s", None)
    if retry_after is None:
        assert delay is None
    else:
        assert delay == pytest.approx(retry_after, abs=2)


def test_unreachable_endpoint_is_retryable(host: Any, wire: Any) -> None:
    """A refused connection is a retryable failure."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        pusher = OtlpHttpExporter(config(f"http://127.0.0.1:{port}"), id=ComponentID("otlphttp"))
        await pusher.start(host)
        with pytest.raises(RetryableExportError, match="127.0.0.1"):
            await pusher.push(Signal.LOGS, wire.events((semconv.EVENT_ALERT, {})))
        await pusher.shutdown()

    run(scenario())


def test_failing_destination_drops_counted_progress_and_keeps_run_events(
    backend: Backend, host: Any, wire: Any
) -> None:
    """While the backend fails, a small queue drops old metrics (counted), keeps start/alert/end, and delivers them on recovery."""
    backend.default = (503, {}, b"down")
    queue = QueueConfig(storage="storage", queue_size=3, max_batch_requests=1, drain_timeout_s=5)
    exporter = http_factory.create(
        config(backend.url, sending_queue=queue), id=ComponentID("otlphttp", "down")
    )
    protected = (semconv.EVENT_RUN_START, semconv.EVENT_ALERT, semconv.EVENT_RUN_END)

    async def scenario() -> None:
        await exporter.start(host)
        await exporter.consume_logs(wire.events((semconv.EVENT_RUN_START, {"name": "r"})))
        for step in range(10):
            await exporter.consume_metrics(wire.metrics(float(step), start=step))
            if step == 4:
                await exporter.consume_logs(wire.events((semconv.EVENT_ALERT, {"title": "nan"})))
        await exporter.consume_logs(wire.events((semconv.EVENT_RUN_END, {"status": "completed"})))
        with sqlite3.connect(host.storage.queue_path(exporter.id)) as conn:
            kept = conn.execute("SELECT count(*) FROM items WHERE droppable = 0").fetchone()[0]
        assert kept >= 2  # run start may be in flight; the alert and the end wait in the queue
        assert exporter.queue.size <= 3 + 1  # capacity, plus a protected item kept over it
        backend.default = (200, {}, b"")
        while exporter.queue.size:
            await asyncio.sleep(0.02)
        await exporter.shutdown()

    run(scenario())
    dropped = host.telemetry.counter(
        "otelcol_exporter_queue_dropped_requests", "", ("exporter",)
    ).value(exporter="otlphttp/down")
    assert dropped >= 6
    delivered_events = [
        record.event_name
        for body in backend.bodies("/v1/logs")
        for rl in ExportLogsServiceRequest.FromString(body).resource_logs
        for sl in rl.scope_logs
        for record in sl.log_records
    ]
    assert set(protected) <= set(delivered_events)
    delivered_metrics = len(set(backend.bodies("/v1/metrics")))
    assert delivered_metrics + dropped == 10
