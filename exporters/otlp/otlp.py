"""The ``otlp`` exporter: OTLP/gRPC to another collector or any OpenTelemetry backend.

This is the agent → gateway hop. Calls use grpcio's blocking channel in a worker
thread, and failures are classified as OTLP says (through the SDK transport's
:func:`~trainwire.transports.grpc.classify_rpc_error`): UNAVAILABLE and friends,
or RESOURCE_EXHAUSTED with RetryInfo, are retried after the server's delay;
anything else is permanent. A partial success is logged, never retried. With
``artifacts.directory`` set, the blobs of ``ml.artifact`` events are forwarded
before the events (see :mod:`.artifacts`).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from trainwire.collector.artifacts import BlobStore
from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.errors import RetryableExportError
from trainwire.exporters.otlp.artifacts import BlobForwarder, artifact_digests
from trainwire.exporters.otlp.config import OtlpExporterConfig
from trainwire.exporters.otlp.split import split_request
from trainwire.transports.grpc import classify_rpc_error, parse_grpc_endpoint

__all__ = ["MAX_REQUEST_BYTES", "OtlpExporter"]

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""Requests are split below this, under gRPC's default 4 MiB receive limit."""

_SERVICES: dict[Signal, tuple[str, Any, str]] = {
    Signal.METRICS: (
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        ExportMetricsServiceResponse,
        "rejected_data_points",
    ),
    Signal.LOGS: (
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        ExportLogsServiceResponse,
        "rejected_log_records",
    ),
    Signal.TRACES: (
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        ExportTraceServiceResponse,
        "rejected_spans",
    ),
}


class OtlpExporter:
    """Delivers OTLP requests to the next hop over gRPC (a :class:`Pusher`)."""

    def __init__(self, config: OtlpExporterConfig, *, id: ComponentID) -> None:
        self.config = config
        self.id = id
        self.target, _ = parse_grpc_endpoint(config.endpoint)
        self._metadata = tuple((k.lower(), v) for k, v in config.headers.items())
        self._compression = (
            grpc.Compression.Gzip
            if config.compression == "gzip"
            else grpc.Compression.NoCompression
        )
        self._channel: grpc.Channel | None = None
        self._methods: dict[Signal, Any] = {}
        self.forwarder: BlobForwarder | None = None

    async def start(self, host: Host) -> None:
        """Open the channel (connection happens on the first call)."""
        self._channel = _open_channel(self.config, self.target)
        for signal, (path, response_type, _) in _SERVICES.items():
            self._methods[signal] = self._channel.unary_unary(
                path,
                request_serializer=_serialize,
                response_deserializer=response_type.FromString,
            )
        directory = self.config.artifacts.directory
        if directory:
            # Only read here; the receiver's service owns the store's size limit.
            store = BlobStore(directory, max_blob_bytes=2**63 - 1)
            self.forwarder = BlobForwarder(
                store,
                self._channel,
                target=self.target,
                metadata=self._metadata,
                timeout_s=self.config.timeout_s,
            )
        logger.info("%s: forwarding to %s", self.id, self.target)

    async def push(self, signal: Signal, request: Any) -> None:
        """Deliver ``request`` (blobs of its artifact events first); raise a classified error."""
        if self._channel is None:
            raise RetryableExportError(f"{self.id}: not started", retry_after_s=1.0)
        if signal is Signal.LOGS and self.forwarder is not None:
            digests = artifact_digests(request)
            if digests:
                await asyncio.to_thread(self.forwarder.forward, digests)
        for part in split_request(signal, request, MAX_REQUEST_BYTES):
            await asyncio.to_thread(self._export, signal, part)

    def _export(self, signal: Signal, request: Any) -> None:
        try:
            response = self._methods[signal](
                request,
                timeout=self.config.timeout_s,
                metadata=self._metadata,
                compression=self._compression,
                wait_for_ready=False,
            )
        except grpc.RpcError as exc:
            raise classify_rpc_error(exc, self.target) from None
        rejected = getattr(response.partial_success, _SERVICES[signal][2])
        if rejected or response.partial_success.error_message:
            # OTLP: a partial success must not be retried.
            logger.warning(
                "%s: %s rejected %d %s items: %s",
                self.id,
                self.target,
                rejected,
                signal.value,
                response.partial_success.error_message,
            )

    async def shutdown(self) -> None:
        """Close the channel; safe before start and twice."""
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def _open_channel(config: OtlpExporterConfig, target: str) -> grpc.Channel:
    endpoint = config.endpoint.strip()
    if config.tls.insecure or endpoint.startswith(("http://", "grpc://")):
        return grpc.insecure_channel(target)
    root = Path(config.tls.ca_file).expanduser().read_bytes() if config.tls.ca_file else None
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=root))
