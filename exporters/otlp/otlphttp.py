"""The ``otlphttp`` exporter: OTLP/HTTP with protobuf bodies to ``<endpoint>/v1/<signal>``.

Failures are classified as the OTLP/HTTP spec says
(https://github.com/open-telemetry/opentelemetry-specification/blob/main/specification/protocol/otlp.md#failures-1):
429, 502, 503 and 504 are retried, after ``Retry-After`` when the server sends it;
every other 4xx or 5xx is permanent. A connection failure or timeout is retried.
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import logging
import ssl
import time
from typing import Any

import aiohttp
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.exporters.otlp.config import OtlpHttpExporterConfig
from trainwire.exporters.otlp.split import split_request

__all__ = ["RETRYABLE_STATUSES", "OtlpHttpExporter", "classify_response"]

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
_MAX_REQUEST_BYTES = 8 * 1024 * 1024
_PROTOBUF = "application/x-protobuf"
_PATHS = {Signal.METRICS: "/v1/metrics", Signal.LOGS: "/v1/logs", Signal.TRACES: "/v1/traces"}
_RESPONSES: dict[Signal, tuple[type[Any], str]] = {
    Signal.METRICS: (ExportMetricsServiceResponse, "rejected_data_points"),
    Signal.LOGS: (ExportLogsServiceResponse, "rejected_log_records"),
    Signal.TRACES: (ExportTraceServiceResponse, "rejected_spans"),
}


class OtlpHttpExporter:
    """Delivers OTLP requests over HTTP (a :class:`Pusher`)."""

    def __init__(self, config: OtlpHttpExporterConfig, *, id: ComponentID) -> None:
        self.config = config
        self.id = id
        self.base_url = config.endpoint.strip().rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool = True

    async def start(self, host: Host) -> None:
        """Open the HTTP session."""
        if self.config.tls.ca_file:
            self._ssl = ssl.create_default_context(cafile=self.config.tls.ca_file)
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_s)
        )
        logger.info("%s: forwarding to %s", self.id, self.base_url)

    async def push(self, signal: Signal, request: Any) -> None:
        """POST ``request`` (split if too large); raise a classified error on failure."""
        if self._session is None:
            raise RetryableExportError(f"{self.id}: not started", retry_after_s=1.0)
        for part in split_request(signal, request, _MAX_REQUEST_BYTES):
            await self._post(self._session, signal, part)

    async def _post(self, session: aiohttp.ClientSession, signal: Signal, request: Any) -> None:
        url = self.base_url + _PATHS[signal]
        body = request.SerializeToString()
        headers = {**self.config.headers, "Content-Type": _PROTOBUF}
        if self.config.compression == "gzip":
            body = await asyncio.to_thread(gzip.compress, body, 6)
            headers["Content-Encoding"] = "gzip"
        try:
            async with session.post(url, data=body, headers=headers, ssl=self._ssl) as response:
                payload = await response.read()
                status, content_type = response.status, response.content_type
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise RetryableExportError(f"{url}: {type(exc).__name__}: {exc}") from None
        error = classify_response(url, status, content_type, payload, retry_after)
        if error is not None:
            raise error
        self._log_partial_success(signal, content_type, payload)

    def _log_partial_success(self, signal: Signal, content_type: str, payload: bytes) -> None:
        if content_type != _PROTOBUF or not payload:
            return
        response_type, field = _RESPONSES[signal]
        try:
            response = response_type.FromString(payload)
        except DecodeError:
            return
        rejected = getattr(response.partial_success, field)
        if rejected or response.partial_success.error_message:
            # OTLP: a partial success must not be retried.
            logger.warning(
                "%s: %s rejected %d %s items: %s",
                self.id,
                self.base_url,
                rejected,
                signal.value,
                response.partial_success.error_message,
            )

    async def shutdown(self) -> None:
        """Close the session; safe before start and twice."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def classify_response(
    url: str, status: int, content_type: str, payload: bytes, retry_after: str | None
) -> Exception | None:
    """None for a 2xx; otherwise the OTLP/HTTP verdict on the answer."""
    if 200 <= status < 300:
        return None
    message = f"{url}: HTTP {status}: {_error_text(content_type, payload)}"
    if status in RETRYABLE_STATUSES:
        return RetryableExportError(message, retry_after_s=parse_retry_after(retry_after))
    return PermanentExportError(message)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` of delay-seconds or an HTTP-date; None if absent."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_text(content_type: str, payload: bytes) -> str:
    """The server's message: a google.rpc.Status for protobuf answers, else the text."""
    if content_type == _PROTOBUF and payload:
        try:
            return status_pb2.Status.FromString(payload).message or "(no message)"
        except DecodeError:
            pass
    text = payload[:300].decode("utf-8", "replace").strip()
    return text or "(empty body)"
