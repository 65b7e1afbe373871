"""The OTLP gRPC receiver: MetricsService and LogsService.

Requests are taken as raw bytes and decoded here, so a malformed payload is
answered ``INVALID_ARGUMENT`` (the sender's fault) rather than grpcio's
``INTERNAL``. A request is acknowledged only after the pipeline has taken it;
when the pipeline cannot (a store that is locked or full), the answer is
``UNAVAILABLE`` with ``RetryInfo``, which OTLP clients retry after the delay.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.collector.receivers.otlp.config import OtlpReceiverConfig
from trainwire.errors import PermanentExportError, RetryableExportError

__all__ = ["OtlpReceiver"]

logger = logging.getLogger(__name__)

_METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"
_LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
_DEFAULT_RETRY_S = 1.0
_GRACE_S = 5.0


class OtlpReceiver:
    """Serves OTLP/gRPC and hands each request to the pipelines of its signal."""

    def __init__(
        self,
        config: OtlpReceiverConfig,
        *,
        id: ComponentID,
        next_consumers: Mapping[Signal, Any],
    ) -> None:
        self.config = config
        self.id = id
        self._next = dict(next_consumers)
        self._server: grpc.aio.Server | None = None
        self.grpc_port: int | None = None
        self.accepted = {Signal.METRICS: 0, Signal.LOGS: 0}
        self.refused = {Signal.METRICS: 0, Signal.LOGS: 0}

    async def start(self, host: Host) -> None:
        """Bind and start the gRPC server; log the address it listens on."""
        grpc_config = self.config.protocols.grpc
        limit = grpc_config.max_recv_msg_size_mib * 1024 * 1024
        # so_reuseport off: a second collector on the same port must fail, not split traffic.
        options = [("grpc.max_receive_message_length", limit), ("grpc.so_reuseport", 0)]
        server = grpc.aio.server(options=options)
        handlers = []
        if Signal.METRICS in self._next:
            handlers.append(self._service(_METRICS_SERVICE, self._export_metrics))
        if Signal.LOGS in self._next:
            handlers.append(self._service(_LOGS_SERVICE, self._export_logs))
        server.add_generic_rpc_handlers(handlers)
        try:
            self.grpc_port = server.add_insecure_port(grpc_config.endpoint)
        except RuntimeError as exc:
            raise OSError(f"{self.id}: cannot listen on {grpc_config.endpoint}: {exc}") from None
        await server.start()
        self._server = server
        host_part = grpc_config.endpoint.rpartition(":")[0]
        logger.info("%s receiver: grpc listening on %s:%d", self.id, host_part, self.grpc_port)

    async def shutdown(self) -> None:
        """Stop taking new requests and let those in flight finish; safe twice."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(_GRACE_S)

    @staticmethod
    def _service(
        name: str, handler: Callable[..., Awaitable[bytes]]
    ) -> grpc.GenericRpcHandler[Any, Any]:
        method = grpc.unary_unary_rpc_method_handler(handler)  # raw bytes in and out
        return grpc.method_handlers_generic_handler(name, {"Export": method})

    async def _export_metrics(
        self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes:
        request = await _decode(ExportMetricsServiceRequest, raw, context)
        count = sum(
            len(getattr(m, m.WhichOneof("data") or "gauge").data_points)
            for rm in request.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        )
        return await self._consume(
            Signal.METRICS,
            request,
            count,
            context,
            ExportMetricsServiceResponse(),
        )

    async def _export_logs(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        request = await _decode(ExportLogsServiceRequest, raw, context)
        count = sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
        return await self._consume(
            Signal.LOGS, request, count, context, ExportLogsServiceResponse()
        )

    async def _consume(
        self,
        signal: Signal,
        request: Any,
        count: int,
        context: grpc.aio.ServicerContext[Any, Any],
        response: Any,
    ) -> bytes:
        consumer = self._next[signal]
        try:
            if signal is Signal.METRICS:
                await consumer.consume_metrics(request)
            else:
                await consumer.consume_logs(request)
        except PermanentExportError as exc:
            # OTLP partial success: the client must not retry what we cannot take.
            self.refused[signal] += count
            field = "rejected_data_points" if signal is Signal.METRICS else "rejected_log_records"
            setattr(response.partial_success, field, count)
            response.partial_success.error_message = str(exc)
            return bytes(response.SerializeToString())
        except RetryableExportError as exc:
            self.refused[signal] += count
            await _abort_retry(context, str(exc), exc.retry_after_s or _DEFAULT_RETRY_S)
        except Exception:
            self.refused[signal] += count
            logger.exception("%s: pipeline failed on a %s request", self.id, signal.value)
            await _abort_retry(context, "the collector failed to store this request", 5.0)
        self.accepted[signal] += count
        return bytes(response.SerializeToString())


async def _decode(
    cls: type[Message], raw: bytes, context: grpc.aio.ServicerContext[Any, Any]
) -> Any:
    request = cls()
    try:
        request.ParseFromString(raw)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"request is not a valid {cls.DESCRIPTOR.full_name} protobuf: {exc}",
        )
    return request


async def _abort_retry(
    context: grpc.aio.ServicerContext[Any, Any], message: str, delay_s: float
) -> None:
    """Abort with UNAVAILABLE and a RetryInfo detail (OTLP's backpressure signal)."""
    retry = error_details_pb2.RetryInfo(
        retry_delay=Duration(seconds=int(delay_s), nanos=int(delay_s % 1 * 1e9))
    )
    status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message)
    status.details.add().Pack(retry)
    await context.abort(
        grpc.StatusCode.UNAVAILABLE,
        message,
        trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
    )
