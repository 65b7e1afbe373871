"""Send OTLP to a collector over gRPC, following OTLP's retry rules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from trainwire import settings
from trainwire.errors import ConfigError, PermanentExportError, RetryableExportError
from trainwire.spool import SIGNAL_LOGS, SIGNAL_METRICS

__all__ = ["GrpcTransport", "classify_rpc_error", "parse_grpc_endpoint"]

logger = logging.getLogger(__name__)

_ARTIFACT_SERVICE = "/trainwire.v1.ArtifactService/"
_CHUNK_BYTES = 1024 * 1024  # far below gRPC's 4 MiB message limit (proto/artifact.proto)
_MIN_BYTES_PER_S = 1024 * 1024
"""Upload deadline: the request timeout plus the blob's size at this (slow) rate."""

# https://github.com/open-telemetry/opentelemetry-specification/blob/main/specification/protocol/otlp.md
_AUTH_RETRY_S = 10.0
_RETRYABLE = {
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS,
}


def parse_grpc_endpoint(endpoint: str) -> tuple[str, bool]:
    """Return ``(host:port, use_tls)`` for ``host:port`` or ``http(s)://host:port[/]``."""
    text = endpoint.strip()
    secure = text.startswith("https://")
    for prefix in ("http://", "https://", "grpc://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in text:
        raise ConfigError(
            f"endpoint {endpoint!r} is not host:port or http(s)://host:port; e.g. localhost:4317"
        )
    return text, secure


class GrpcTransport:
    """OTLP/gRPC client for the metrics and logs services."""

    def __init__(self, endpoint: str, *, headers: Mapping[str, str] | None = None) -> None:
        target, secure = parse_grpc_endpoint(endpoint)
        self.target = target
        # gRPC metadata on every call: TRAINWIRE_TOKEN, OTEL_EXPORTER_OTLP_HEADERS (never logged).
        chosen = settings.request_headers() if headers is None else headers
        self._metadata = tuple((k.lower(), v) for k, v in chosen.items())
        self._channel = (
            grpc.secure_channel(target, grpc.ssl_channel_credentials())
            if secure
            else grpc.insecure_channel(target)
        )
        self._metrics = self._channel.unary_unary(
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            request_serializer=ExportMetricsServiceRequest.SerializeToString,
            response_deserializer=ExportMetricsServiceResponse.FromString,
        )
        self._logs = self._channel.unary_unary(
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            request_serializer=ExportLogsServiceRequest.SerializeToString,
            response_deserializer=ExportLogsServiceResponse.FromString,
        )
        self._raw_metrics = self._channel.unary_unary(
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            request_serializer=None,  # already encoded
            response_deserializer=ExportMetricsServiceResponse.FromString,
        )
        self._raw_logs = self._channel.unary_unary(
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            request_serializer=None,  # already encoded
            response_deserializer=ExportLogsServiceResponse.FromString,
        )

    def export_raw(self, signal: int, payload: bytes, *, timeout_s: float) -> None:
        """Deliver one encoded request (sent as is: no decode and re-encode)."""
        if signal == SIGNAL_METRICS:
            self._check_metrics(self._call(self._raw_metrics, payload, timeout_s))
        elif signal == SIGNAL_LOGS:
            self._check_logs(self._call(self._raw_logs, payload, timeout_s))
        else:
            raise PermanentExportError(f"unknown signal {signal} in the spool")

    def export_metrics(self, request: ExportMetricsServiceRequest, *, timeout_s: float) -> None:
        """Deliver one metrics request."""
        self._check_metrics(self._call(self._metrics, request, timeout_s))

    def _check_metrics(self, response: ExportMetricsServiceResponse) -> None:
        if response.partial_success.rejected_data_points:
            logger.warning(
                "collector at %s rejected %d points: %s",
                self.target,
                response.partial_success.rejected_data_points,
                response.partial_success.error_message,
            )

    def export_logs(self, request: ExportLogsServiceRequest, *, timeout_s: float) -> None:
        """Deliver one logs request."""
        self._check_logs(self._call(self._logs, request, timeout_s))

    def _check_logs(self, response: ExportLogsServiceResponse) -> None:
        if response.partial_success.rejected_log_records:
            logger.warning(
                "collector at %s rejected %d events: %s",
                self.target,
                response.partial_success.rejected_log_records,
                response.partial_success.error_message,
            )

    def _call(self, method: Any, request: Any, timeout_s: float) -> Any:
        try:
            return method(request, timeout=timeout_s, wait_for_ready=False, metadata=self._metadata)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                # Keep the data (spooled) rather than drop it: a fixed token, or
                # `trainwire sync`, delivers it later.
                raise RetryableExportError(
                    f"collector at {self.target} refused the credentials ({code.name}); set"
                    " TRAINWIRE_TOKEN or OTEL_EXPORTER_OTLP_HEADERS",
                    retry_after_s=_AUTH_RETRY_S,
                ) from None
            raise classify_rpc_error(exc, self.target) from None

    def upload_blob(
        self,
        path: Path,
        *,
        sha256: str,
        size: int,
        metadata: Mapping[str, str] | None,
        timeout_s: float,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> tuple[int, int]:
        """Make the collector hold blob ``sha256`` (the bytes of ``path``) and announce it.

        Stat first: a blob the collector already holds is never sent again (a
        header-only Upload still announces it); otherwise one Upload stream resumes at
        the offset the collector has committed, in 1 MiB chunks. With ``metadata``
        (run_id, name, kind, mime_type) the collector emits the ``ml.artifact`` event
        once the blob is committed. Returns ``(bytes sent, offset resumed at)``.

        Raises:
            RetryableExportError: Stat again and retry: the collector is unavailable,
                another upload of the blob runs, the stream stopped early
                (``should_stop``), or the offset moved (retry at once).
            PermanentExportError: refused (too large, malformed, no ArtifactService).
        """
        from trainwire.proto import artifact_pb2

        stat = self._artifact_call("Stat", artifact_pb2.StatResponse)(
            artifact_pb2.StatRequest(sha256=sha256).SerializeToString(),
            timeout=timeout_s,
            wait_for_ready=False,
        )
        offset = size if stat.exists else min(stat.committed_bytes, size)
        header = artifact_pb2.UploadHeader(sha256=sha256, total_size=size, offset=offset)
        if metadata is not None:
            header.metadata.run_id = metadata.get("run_id", "")
            header.metadata.name = metadata.get("name", "")
            header.metadata.kind = metadata.get("kind", "")
            header.metadata.mime_type = metadata.get("mime_type", "")
        sent = [0]

        def chunks() -> Iterator[bytes]:
            yield artifact_pb2.UploadChunk(header=header).SerializeToString()
            with open(path, "rb") as blob:
                blob.seek(offset)
                while not should_stop() and (data := blob.read(_CHUNK_BYTES)):
                    sent[0] += len(data)
                    yield artifact_pb2.UploadChunk(data=data).SerializeToString()

        response = self._artifact_call("Upload", artifact_pb2.UploadResponse, stream=True)(
            chunks(),
            timeout=timeout_s + size / _MIN_BYTES_PER_S,
            wait_for_ready=False,
        )
        if not response.committed:
            raise RetryableExportError(
                f"upload of blob {sha256} to {self.target} ended at byte"
                f" {response.committed_bytes} of {size}; resuming"
            )
        return sent[0], 0 if stat.exists else offset

    def probe(self, timeout_s: float = 3.0) -> str:
        """What answers at the endpoint: ``trainwire``, ``otel`` (a plain OpenTelemetry
        collector, without trainwire's ArtifactService) or ``unreachable``."""
        from trainwire.proto import artifact_pb2

        call = self._channel.unary_unary(
            _ARTIFACT_SERVICE + "Stat",
            request_serializer=None,
            response_deserializer=artifact_pb2.StatResponse.FromString,
        )
        try:
            call(
                artifact_pb2.StatRequest(sha256="0" * 64).SerializeToString(),
                timeout=timeout_s,
                metadata=self._metadata,
            )
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return "otel"
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return "unreachable"
            return "trainwire"  # it knows the service (auth or another refusal)
        return "trainwire"

    def _artifact_call(self, method: str, response: Any, *, stream: bool = False) -> Any:
        """A call of trainwire's ArtifactService that raises our export errors."""
        make = self._channel.stream_unary if stream else self._channel.unary_unary
        call = make(
            _ARTIFACT_SERVICE + method,
            request_serializer=None,  # encoded by the caller
            response_deserializer=response.FromString,
        )

        def invoke(request: Any, **kwargs: Any) -> Any:
            try:
                return call(request, metadata=self._metadata, **kwargs)
            except grpc.RpcError as exc:
                raise _artifact_error(exc, self.target) from None

        return invoke

    def close(self) -> None:
        """Close the channel; safe twice."""
        self._channel.close()


def _artifact_error(exc: grpc.RpcError, target: str) -> Exception:
    """Like :func:`classify_rpc_error`, for the ArtifactService's own answers."""
    code = exc.code() if isinstance(exc, grpc.Call) else None
    if code == grpc.StatusCode.FAILED_PRECONDITION:  # the committed offset moved: Stat again
        return RetryableExportError(f"collector at {target}: {exc.details()}", retry_after_s=0.05)
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return PermanentExportError(
            f"{target} has no trainwire ArtifactService (a plain OpenTelemetry collector?);"
            " send artifacts to a trainwire collector"
        )
    return classify_rpc_error(exc, target)


def classify_rpc_error(exc: grpc.RpcError, target: str) -> Exception:
    """Return the OTLP verdict on a failed call: Retryable (with RetryInfo's delay) or Permanent."""
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    message = f"collector at {target}: {code.name}: {details}"
    retry_after = _retry_delay(exc)
    if code in _RETRYABLE:
        return RetryableExportError(message, retry_after_s=retry_after)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry_after is not None:
        return RetryableExportError(message, retry_after_s=retry_after)
    return PermanentExportError(message)


def _retry_delay(exc: grpc.RpcError) -> float | None:
    """Read ``RetryInfo.retry_delay`` from the status details, if the server sent one."""
    if not isinstance(exc, grpc.Call):
        return None
    for key, value in exc.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:
            return None
        for detail in status.details:
            info = error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None
