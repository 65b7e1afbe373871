"""Fixtures of the otlp/otlphttp exporter tests: a host with storage, and OTLP request builders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.collector.artifacts import ArtifactService
from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.extensions.storage import StorageConfig, StorageExtension
from trainwire.records import EventRecord, MetricRecord, encode_events, encode_metrics
from trainwire.testing import ComponentHost as Host

T0 = 1_700_000_000_000_000_000
SCOPE = InstrumentationScope(name=semconv.SCOPE_NAME, version="0.1.0")


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    """A Host whose storage extension lives under tmp_path/data."""
    storage = StorageExtension(
        StorageConfig(directory=str(tmp_path / "data")), id=ComponentID("storage")
    )
    asyncio.run(storage.start(None))  # type: ignore[arg-type]
    yield Host(storage)
    asyncio.run(storage.shutdown())


class Wire:
    """OTLP requests as the SDK makes them."""

    T0 = T0

    @staticmethod
    def resource(run_id: str = "run-1") -> Resource:
        return Resource(
            attributes=to_attributes(
                {
                    semconv.ML_RUN_ID: run_id,
                    semconv.ML_EXPERIMENT_NAME: "mnist",
                    semconv.SERVICE_NAME: "mnist",
                    semconv.SERVICE_INSTANCE_ID: semconv.service_instance_id(run_id, 0),
                    semconv.ML_RUN_RANK: 0,
                    semconv.ML_RUN_WORLD_SIZE: 1,
                }
            )
        )

    def metrics(
        self, *values: float, run_id: str = "run-1", start: int = 0
    ) -> ExportMetricsServiceRequest:
        """One ``log({"loss": v}, step=i)`` call per value."""
        records = [
            MetricRecord(T0 + (start + i) * 1000, start + i, {"loss": v})
            for i, v in enumerate(values)
        ]
        return encode_metrics(self.resource(run_id), SCOPE, records)

    def events(self, *events: tuple[str, Any], run_id: str = "run-1") -> ExportLogsServiceRequest:
        """Events given as (name, body), with fresh uids."""
        records = [
            EventRecord(T0 + i, name, body, f"{run_id}-{name}-{i}")
            for i, (name, body) in enumerate(events)
        ]
        return encode_events(self.resource(run_id), SCOPE, records)


@pytest.fixture
def wire() -> Wire:
    """OTLP request builders."""
    return Wire()


class Hop:
    """A next hop on grpc.aio: records OTLP requests and their metadata; fails as scripted.

    ``failures`` holds (code, details, retry_delay_s or None), popped one per call.
    ``on_logs`` is called with each logs request as it arrives (before answering).
    """

    SERVICES = {
        "opentelemetry.proto.collector.metrics.v1.MetricsService": Signal.METRICS,
        "opentelemetry.proto.collector.logs.v1.LogsService": Signal.LOGS,
        "opentelemetry.proto.collector.trace.v1.TraceService": Signal.TRACES,
    }

    def __init__(self) -> None:
        self.requests: dict[Signal, list[Any]] = {signal: [] for signal in Signal}
        self.metadata: list[dict[str, str]] = []
        self.failures: list[tuple[grpc.StatusCode, str, float | None]] = []
        self.partial_success: dict[Signal, Any] = {}
        self.on_logs: Callable[[ExportLogsServiceRequest], None] | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def handlers(self) -> list[grpc.GenericRpcHandler[Any, Any]]:
        return [
            grpc.method_handlers_generic_handler(
                name, {"Export": grpc.unary_unary_rpc_method_handler(self._handler(signal))}
            )
            for name, signal in self.SERVICES.items()
        ]

    def _handler(self, signal: Signal) -> Callable[..., Awaitable[bytes]]:
        request_type, response_type = _TYPES[signal]

        async def export(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            self.metadata.append({k: v for k, v in context.invocation_metadata() or ()})
            if self.failures:
                code, details, delay = self.failures.pop(0)
                trailing: tuple[tuple[str, bytes], ...] = ()
                if delay is not None:
                    status = status_pb2.Status(code=code.value[0], message=details)
                    status.details.add().Pack(
                        error_details_pb2.RetryInfo(retry_delay=Duration(seconds=int(delay)))
                    )
                    trailing = (("grpc-status-details-bin", status.SerializeToString()),)
                await context.abort(code, details, trailing_metadata=trailing)
            request = request_type.FromString(raw)
            if signal is Signal.LOGS and self.on_logs is not None:
                self.on_logs(request)
            self.requests[signal].append(request)
            response = self.partial_success.get(signal) or response_type()
            return bytes(response.SerializeToString())

        return export


@asynccontextmanager
async def serve_hop(
    hop: Hop, *, artifacts: ArtifactService | None = None, max_receive_mib: int = 4
) -> AsyncIterator[Hop]:
    """Run ``hop`` (and optionally an ArtifactService beside it) on 127.0.0.1:0."""
    server = grpc.aio.server(
        options=[("grpc.max_receive_message_length", max_receive_mib * 1024 * 1024)]
    )
    server.add_generic_rpc_handlers(hop.handlers())
    if artifacts is not None:
        artifacts.add_to_grpc_server(server)
    hop.port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield hop
    finally:
        await server.stop(None)


@pytest.fixture
def hop() -> Hop:
    """A fresh scripted next hop (serve it with the ``serve_hop`` fixture)."""
    return Hop()


@pytest.fixture(name="serve_hop")
def serve_hop_fixture() -> Any:
    """``serve_hop(hop, artifacts=..., max_receive_mib=...)``: an async context manager."""
    return serve_hop


_TYPES = {
    Signal.METRICS: (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
    Signal.LOGS: (ExportLogsServiceRequest, ExportLogsServiceResponse),
    Signal.TRACES: (ExportTraceServiceRequest, ExportTraceServiceResponse),
}
