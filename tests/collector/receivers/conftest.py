"""Fixtures of the receiver tests: OTLP builders, an in-process receiver, certificates, configs."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.anyvalue import to_attributes
from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.confmap import decode
from trainwire.collector.receivers.otlp import OtlpReceiver, OtlpReceiverConfig
from trainwire.testing import DEFAULT_TEST_CONFIG
from trainwire.testing import ComponentHost as FakeHost

T = TypeVar("T")
T0 = 1_700_000_000_000_000_000

BOTH_PROTOCOLS_CONFIG = DEFAULT_TEST_CONFIG.replace(
    "        endpoint: 127.0.0.1:0\n",
    "        endpoint: 127.0.0.1:0\n      http:\n        endpoint: 127.0.0.1:0\n",
).replace(
    "    logs: {{receivers: [otlp], exporters: [sqlite]}}\n",
    "    logs: {{receivers: [otlp], exporters: [sqlite]}}\n"
    "    traces: {{receivers: [otlp], exporters: [sqlite]}}\n",
)


class Otlp:
    """Builds small OTLP export requests."""

    T0 = T0
    TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
    SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")

    def metrics(
        self, name: str = "loss", value: float = 0.5, time_ns: int = T0, **attributes: Any
    ) -> ExportMetricsServiceRequest:
        """One gauge point."""
        request = ExportMetricsServiceRequest()
        metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name=name)
        point = metric.gauge.data_points.add(time_unix_nano=time_ns, as_double=value)
        point.attributes.extend(to_attributes(attributes))
        return request

    def logs(self, body: str = "hello", time_ns: int = T0) -> ExportLogsServiceRequest:
        """One log record."""
        request = ExportLogsServiceRequest()
        record = request.resource_logs.add().scope_logs.add().log_records.add()
        record.time_unix_nano = time_ns
        record.body.string_value = body
        return request

    def traces(self, name: str = "step", span_id: bytes = SPAN_ID) -> ExportTraceServiceRequest:
        """One span."""
        request = ExportTraceServiceRequest()
        span = request.resource_spans.add().scope_spans.add().spans.add(name=name)
        span.trace_id, span.span_id = self.TRACE_ID, span_id
        span.start_time_unix_nano, span.end_time_unix_nano = T0, T0 + 1000
        return request

    def request(self, signal: Signal) -> Any:
        """A small valid request of ``signal``."""
        return {Signal.METRICS: self.metrics, Signal.LOGS: self.logs, Signal.TRACES: self.traces}[
            signal
        ]()


@pytest.fixture(scope="session")
def otlp() -> Otlp:
    """OTLP request builders."""
    return Otlp()


class Sink:
    """A consumer of every signal that records requests, or raises ``failure`` if set."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.failure: BaseException | None = None

    async def _take(self, request: Any) -> None:
        if self.failure is not None:
            raise self.failure
        self.requests.append(request)

    consume_metrics = consume_logs = consume_traces = _take


@dataclass
class Running:
    """A started in-process receiver, its sink and host."""

    receiver: OtlpReceiver
    sink: Sink
    host: FakeHost

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.receiver.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.receiver.http_port}"


class LoopThread:
    """An event loop on a daemon thread, for running a receiver beside blocking clients."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 20.0) -> T:
        """Run ``coroutine`` on the loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def receiver_config(data: dict[str, Any]) -> OtlpReceiverConfig:
    """Decode and validate an ``otlp`` receiver config as the loader would."""
    problems: list[str] = []
    config = decode(OtlpReceiverConfig, data, "receivers::otlp", problems)
    assert problems == []
    return config


StartReceiver = Callable[..., Running]


@pytest.fixture
def start_receiver() -> Iterator[StartReceiver]:
    """Start in-process receivers from config mappings; all are shut down after the test."""
    loop = LoopThread()
    started: list[OtlpReceiver] = []

    def start(data: dict[str, Any], signals: frozenset[Signal] = frozenset(Signal)) -> Running:
        sink, host = Sink(), FakeHost()
        receiver = OtlpReceiver(
            receiver_config(data),
            id=ComponentID("otlp"),
            next_consumers={signal: sink for signal in signals},
        )
        loop.run(receiver.start(host))
        started.append(receiver)
        return Running(receiver, sink, host)

    yield start
    for receiver in started:
        loop.run(receiver.shutdown())
    loop.close()


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""

    cert_file: Path
    key_file: Path

    @property
    def pem(self) -> bytes:
        return self.cert_file.read_bytes()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A fresh self-signed EC certificate made with the openssl CLI (skipped without it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return Certificate(cert, key)


@pytest.fixture(scope="session")
def both_protocols_config() -> str:
    """A CollectorProcess config template: otlp over grpc and http, three pipelines to sqlite."""
    return BOTH_PROTOCOLS_CONFIG
