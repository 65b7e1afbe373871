"""OTLP/gRPC: MetricsService, LogsService and TraceService on one server.

Requests arrive as raw bytes and are decoded here, so a malformed payload is
answered ``INVALID_ARGUMENT`` (the sender's fault) rather than grpcio's
``INTERNAL``. Backpressure is ``UNAVAILABLE`` with a ``RetryInfo`` detail, which
OTLP clients retry after the delay (OTLP spec, "Failures").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError, Message

from trainwire.collector.encoded import carrying
from trainwire.collector.grpcstatus import abort_retry
from trainwire.collector.receivers.otlp.auth import bearer_matches
from trainwire.collector.receivers.otlp.config import GrpcServerConfig, TLSConfig
from trainwire.collector.receivers.otlp.signals import SignalSpec
from trainwire.errors import RetryableExportError

if TYPE_CHECKING:
    from trainwire.collector.receivers.otlp.otlp import OtlpReceiver

__all__ = ["GrpcServer"]

logger = logging.getLogger(__name__)

_GRACE_S = 5.0
_TRANSPORT = "grpc"


class GrpcServer:
    """The receiver's gRPC server: one ``Export`` method per signal it has a pipeline for."""

    def __init__(self, config: GrpcServerConfig, *, receiver: OtlpReceiver) -> None:
        self.config = config
        self._receiver = receiver
        self._server: grpc.aio.Server | None = None

    async def start(self) -> int:
        """Bind and start; return the port (the one picked, for port 0)."""
        receiver, config = self._receiver, self.config
        limit = config.max_recv_msg_size_mib * 1024 * 1024
        # so_reuseport off: a second collector on the same port must fail, not split traffic.
        options = [("grpc.max_receive_message_length", limit), ("grpc.so_reuseport", 0)]
        token = receiver.token
        interceptors = [_BearerAuth(token)] if token else []
        server = grpc.aio.server(options=options, interceptors=interceptors)
        server.add_generic_rpc_handlers([self._service(spec) for spec in receiver.specs])
        if receiver.artifacts is not None:
            receiver.artifacts.add_to_grpc_server(server)
        try:
            if config.tls is not None:
                credentials = _server_credentials(config.tls, receiver.id)
                port = server.add_secure_port(config.endpoint, credentials)
            else:
                port = server.add_insecure_port(config.endpoint)
        except RuntimeError as exc:
            raise OSError(f"{receiver.id}: cannot listen on {config.endpoint}: {exc}") from None
        await server.start()
        self._server = server
        host = config.endpoint.rpartition(":")[0]
        logger.info("%s receiver: grpc listening on %s:%d", receiver.id, host, port)
        return int(port)

    async def stop(self) -> None:
        """Stop taking requests and let those in flight finish; safe twice."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(_GRACE_S)

    def _service(self, spec: SignalSpec) -> grpc.GenericRpcHandler[Any, Any]:
        async def export(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            request = await _decode(spec.request_type, raw, context)
            try:
                with carrying(request, raw):  # queues store these bytes, not a re-encoding
                    response = await self._receiver.export(spec, request, _TRANSPORT)
            except RetryableExportError as exc:
                await abort_retry(context, str(exc), exc.retry_after_s or 1.0)
            return bytes(response.SerializeToString())

        method = grpc.unary_unary_rpc_method_handler(export)  # raw bytes in and out
        return grpc.method_handlers_generic_handler(spec.service, {"Export": method})


def _server_credentials(tls: TLSConfig, receiver: object) -> grpc.ServerCredentials:
    pems = []
    for setting in ("key_file", "cert_file"):
        path = getattr(tls, setting)
        try:
            pems.append(Path(path).read_bytes())
        except OSError as exc:
            raise OSError(
                f"{receiver}: cannot read tls {setting} {path!r}: {exc.strerror}"
            ) from None
    return grpc.ssl_server_credentials([(pems[0], pems[1])])


class _BearerAuth(grpc.aio.ServerInterceptor):  # type: ignore[misc,type-arg]
    """Refuses calls without ``authorization: Bearer <token>`` with UNAUTHENTICATED."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        metadata = details.invocation_metadata or ()  # type: ignore[attr-defined]
        given = next((str(v) for k, v in metadata if k == "authorization"), None)
        handler = await continuation(details)
        if handler is None or bearer_matches(given, self._token):
            return handler
        return _deny_like(handler)


async def _deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")


def _deny_like(handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same streaming shape as ``handler`` that refuses the call."""
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(_deny)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(_deny)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(_deny)
    return grpc.unary_unary_rpc_method_handler(_deny)


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
