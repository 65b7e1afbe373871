"""OTLP/HTTP: ``POST /v1/metrics``, ``/v1/logs`` and ``/v1/traces`` on aiohttp.

Follows the OTLP spec's HTTP section
(https://opentelemetry.io/docs/specs/otlp/#otlphttp): bodies are binary protobuf
(``application/x-protobuf``) or OTLP/JSON (``application/json``), optionally
``Content-Encoding: gzip``; the response has the request's content type. Errors
carry a ``google.rpc.Status`` body: 400 for a payload that does not decode, 401
without the bearer token, 413 for a body over ``max_request_body_size_mib`` (judged
by ``Content-Length`` before reading, while reading, and again after inflating, so
a gzip bomb stops at the limit), 415 for another content type or encoding, and 503
with ``Retry-After`` when the pipeline cannot take the request now.

aiohttp is imported only when an http server starts, so the SDK and the embedded
default never need it (``pip install 'trainwire[server]'``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import zlib
from typing import TYPE_CHECKING, Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from trainwire.collector.receivers.otlp.auth import bearer_matches
from trainwire.collector.receivers.otlp.config import (
    INSTALL_HINT,
    HttpServerConfig,
    TLSConfig,
    parse_endpoint,
)
from trainwire.collector.receivers.otlp.otlpjson import OtlpJsonError, parse_json, to_json
from trainwire.collector.receivers.otlp.signals import SignalSpec
from trainwire.errors import RetryableExportError

if TYPE_CHECKING:
    from aiohttp import web

    from trainwire.collector.receivers.otlp.otlp import OtlpReceiver

__all__ = ["HttpServer"]

logger = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ENCODINGS = {
    "": None,
    "identity": None,
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
}
_ENCODINGS["deflate"] = 32 + zlib.MAX_WBITS  # zlib (or gzip) framing, detected
_BODY_TIMEOUT_S = 30.0
_GRACE_S = 5.0
_TRANSPORT = "http"


class _Reject(Exception):
    """Answer the request with ``status`` and a Status body of ``code``."""

    def __init__(self, status: int, code: int, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class HttpServer:
    """The receiver's OTLP/HTTP server."""

    def __init__(self, config: HttpServerConfig, *, receiver: OtlpReceiver) -> None:
        self.config = config
        self._receiver = receiver
        self._limit = config.max_request_body_size_mib * 1024 * 1024
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Bind and start; return the port (the one picked, for port 0)."""
        receiver, config = self._receiver, self.config
        try:
            from aiohttp import web
        except ImportError:
            # The collector CLI reports an OSError from start as one clear line.
            raise OSError(f"{receiver.id}: the http protocol {INSTALL_HINT}") from None
        ssl_context = _ssl_context(config.tls, receiver.id) if config.tls else None
        # Auth as middleware covers every route of the app, those mounted beside OTLP too.
        middlewares = [_bearer_auth(receiver.token)] if receiver.token else []
        app = web.Application(client_max_size=self._limit, middlewares=middlewares)
        for spec in receiver.specs:
            app.router.add_post(spec.path, self._handler(spec))
        if receiver.artifacts is not None:
            from trainwire.collector.artifacts.http import artifact_routes

            app.add_routes(artifact_routes(receiver.artifacts))
        runner = web.AppRunner(
            app, access_log=None, auto_decompress=False, shutdown_timeout=_GRACE_S
        )
        await runner.setup()
        host, port = parse_endpoint(config.endpoint)
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_port=False)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(
                f"{receiver.id}: cannot listen on {config.endpoint}: {exc.strerror or exc}"
            ) from None
        self._runner = runner
        bound = int(runner.addresses[0][1])
        logger.info(
            "%s receiver: http listening on %s:%d",
            receiver.id,
            config.endpoint.rpartition(":")[0],
            bound,
        )
        return bound

    async def stop(self) -> None:
        """Stop taking requests and let those in flight finish; safe twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def _handler(self, spec: SignalSpec) -> Any:
        async def handle(request: web.Request) -> web.Response:
            as_json = request.content_type == JSON
            try:
                response = await self._handle(spec, request)
            except _Reject as exc:
                return _status_reply(exc.status, exc.code, exc.message, as_json, exc.headers)
            except Exception:  # the boundary: log it, answer with a Status, keep serving
                logger.exception("%s: http request to %s failed", self._receiver.id, spec.path)
                return _status_reply(500, code_pb2.INTERNAL, "internal error", as_json, {})
            return _reply(200, response, as_json, {})

        return handle

    async def _handle(self, spec: SignalSpec, request: web.Request) -> Message:
        if request.content_type not in (PROTOBUF, JSON):
            raise _Reject(
                415,
                code_pb2.INVALID_ARGUMENT,
                f"unsupported content type {request.content_type!r}; use {PROTOBUF} or {JSON}",
            )
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in _ENCODINGS:
            raise _Reject(
                415,
                code_pb2.INVALID_ARGUMENT,
                f"unsupported Content-Encoding {encoding!r}; use gzip or none",
            )
        body = await self._read_body(request)
        message = await asyncio.to_thread(
            self._decode, spec, body, _ENCODINGS[encoding], request.content_type == JSON
        )
        try:
            response: Message = await self._receiver.export(spec, message, _TRANSPORT)
        except RetryableExportError as exc:
            raise _Reject(
                503,
                code_pb2.UNAVAILABLE,
                str(exc),
                **{"Retry-After": str(max(1, math.ceil(exc.retry_after_s or 1.0)))},
            ) from None
        return response

    async def _read_body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > self._limit:
            raise self._too_large(f"Content-Length {request.content_length}")
        try:
            return await asyncio.wait_for(self._read_chunks(request), _BODY_TIMEOUT_S)
        except _Reject:
            raise
        except asyncio.TimeoutError:
            raise _Reject(
                408, code_pb2.DEADLINE_EXCEEDED, "the body took too long to arrive"
            ) from None
        except Exception as exc:  # a broken chunked body, a reset connection
            raise _Reject(400, code_pb2.INVALID_ARGUMENT, f"cannot read the body: {exc}") from None

    async def _read_chunks(self, request: web.Request) -> bytes:
        chunks, size = [], 0
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > self._limit:
                raise self._too_large("the body")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, what: str) -> _Reject:
        return _Reject(
            413,
            code_pb2.RESOURCE_EXHAUSTED,
            f"{what} is over max_request_body_size_mib"
            f" ({self.config.max_request_body_size_mib} MiB)",
        )

    def _decode(self, spec: SignalSpec, body: bytes, wbits: int | None, as_json: bool) -> Any:
        """Inflate and parse ``body`` (on a worker thread: large bodies take a while)."""
        if wbits is not None:
            body = self._inflate(body, wbits)
        if as_json:
            try:
                return parse_json(spec.request_type, spec.signal, body)
            except OtlpJsonError as exc:
                raise _Reject(400, code_pb2.INVALID_ARGUMENT, str(exc)) from None
        request = spec.request_type()
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeWarning, ValueError) as exc:
            raise _Reject(
                400,
                code_pb2.INVALID_ARGUMENT,
                f"body is not a valid {spec.request_type.DESCRIPTOR.full_name} protobuf: {exc}",
            ) from None
        return request

    def _inflate(self, body: bytes, wbits: int) -> bytes:
        """Decompress, stopping as soon as the output passes the limit (a gzip bomb)."""
        out = bytearray()
        try:
            while body:  # gzip allows several members one after another
                inflater = zlib.decompressobj(wbits)
                out += inflater.decompress(body, self._limit + 1 - len(out))
                if len(out) > self._limit or inflater.unconsumed_tail:
                    raise self._too_large("the inflated body")
                if not inflater.eof:
                    raise zlib.error("compressed data is truncated")
                body = inflater.unused_data
        except zlib.error as exc:
            raise _Reject(
                400, code_pb2.INVALID_ARGUMENT, f"body does not decompress: {exc}"
            ) from None
        return bytes(out)


def _bearer_auth(token: str) -> Any:
    """Middleware answering 401 (before the body is read) without ``Bearer <token>``."""
    from aiohttp import web

    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        if bearer_matches(request.headers.get("Authorization"), token):
            response: web.StreamResponse = await handler(request)
            return response
        return _status_reply(
            401,
            code_pb2.UNAUTHENTICATED,
            "missing or wrong bearer token",
            request.content_type == JSON,
            {"WWW-Authenticate": "Bearer"},
        )

    return check


def _ssl_context(tls: TLSConfig, receiver: object) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise OSError(
            f"{receiver}: cannot load tls cert_file {tls.cert_file!r} and key_file"
            f" {tls.key_file!r}: {exc.strerror or exc}"
        ) from None
    return context


def _reply(status: int, message: Message, as_json: bool, headers: dict[str, str]) -> web.Response:
    from aiohttp import web

    body = to_json(message) if as_json else message.SerializeToString()
    return web.Response(
        status=status, body=body, content_type=JSON if as_json else PROTOBUF, headers=headers
    )


def _status_reply(
    status: int, code: int, message: str, as_json: bool, headers: dict[str, str]
) -> web.Response:
    """An error answer: a google.rpc.Status, as the OTLP spec asks of every 4xx and 5xx."""
    body = status_pb2.Status(code=code, message=message)
    retry_after = headers.get("Retry-After")
    if retry_after is not None:
        body.details.add().Pack(
            error_details_pb2.RetryInfo(retry_delay=Duration(seconds=int(retry_after)))
        )
    return _reply(status, body, as_json, headers)
