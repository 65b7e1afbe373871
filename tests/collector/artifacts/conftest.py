"""Fixtures of the artifact-service tests: a real grpc.aio server on loopback and an event sink."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from trainwire.anyvalue import attributes_to_dict
from trainwire.collector.artifacts import ArtifactsConfig, ArtifactService
from trainwire.proto import artifact_pb2_grpc

MiB = 1024 * 1024


class EventSink:
    """A logs consumer that records what the service emits; ``failures`` are raised first."""

    def __init__(self) -> None:
        self.requests: list[ExportLogsServiceRequest] = []
        self.failures: list[Exception] = []

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.requests.append(request)

    def records(self) -> list[tuple[dict[str, Any], LogRecord]]:
        """(resource attributes, record) of every event received."""
        return [
            (attributes_to_dict(rl.resource.attributes), record)
            for request in self.requests
            for rl in request.resource_logs
            for sl in rl.scope_logs
            for record in sl.log_records
        ]


@dataclass
class Served:
    """A running service, its server's port, and a real stub on a real channel."""

    service: ArtifactService
    stub: Any
    channel: grpc.aio.Channel
    port: int


@asynccontextmanager
async def artifact_server(
    directory: Path,
    *,
    sink: EventSink | None = None,
    max_blob_size_mib: int = 64,
    max_receive_mib: int = 4,
) -> AsyncIterator[Served]:
    """Serve an ArtifactService on 127.0.0.1:0 and yield a connected stub."""
    config = ArtifactsConfig(directory=str(directory), max_blob_size_mib=max_blob_size_mib)
    service = ArtifactService(config, consume_logs=sink.consume_logs if sink else None)
    limit = max_receive_mib * MiB
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit)])
    service.add_to_grpc_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Served(service, artifact_pb2_grpc.ArtifactServiceStub(channel), channel, port)
    finally:
        await channel.close()
        await server.stop(None)


@pytest.fixture
def sink() -> EventSink:
    """A fresh event sink."""
    return EventSink()


@pytest.fixture
def serve() -> Any:
    """``serve(directory, sink=..., max_blob_size_mib=..., max_receive_mib=...)``: a running server."""
    return artifact_server
