"""``trainwire.v1.ArtifactService`` on grpc.aio, over an :class:`ArtifactService`.

Messages arrive as raw bytes and are decoded here, so a malformed one is the
sender's INVALID_ARGUMENT rather than grpcio's INTERNAL. Store errors map to the
codes in :mod:`.errors`; a refused offset carries the right one in the message
and in the trailing metadata ``trainwire-committed-bytes``. When the pipeline
cannot take the ``ml.artifact`` event the answer is UNAVAILABLE with RetryInfo
(the blob stays committed; the retried upload is a no-op that re-emits it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import grpc.aio
from google.protobuf.message import DecodeError, Message

from trainwire.collector.artifacts.errors import (
    BlobError,
    InvalidBlobRequestError,
    OffsetMismatchError,
)
from trainwire.collector.artifacts.events import ArtifactInfo
from trainwire.collector.grpcstatus import abort_retry
from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.proto import artifact_pb2

if TYPE_CHECKING:
    from trainwire.collector.artifacts.service import ArtifactService

__all__ = ["COMMITTED_BYTES_KEY", "SERVICE_NAME", "add_to_server"]

logger = logging.getLogger(__name__)

SERVICE_NAME = artifact_pb2.DESCRIPTOR.services_by_name["ArtifactService"].full_name
COMMITTED_BYTES_KEY = "trainwire-committed-bytes"
"""Trailing metadata of a FAILED_PRECONDITION answer: the offset to resume at."""

Context = grpc.aio.ServicerContext[Any, Any]
M = TypeVar("M", bound=Message)


def add_to_server(service: ArtifactService, server: grpc.aio.Server) -> None:
    """Register the three methods of the service on ``server``."""
    servicer = _Servicer(service)
    handlers = {
        "Stat": grpc.unary_unary_rpc_method_handler(servicer.stat),
        "Upload": grpc.stream_unary_rpc_method_handler(servicer.upload),
        "Download": grpc.unary_stream_rpc_method_handler(servicer.download),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)])


class _Servicer:
    def __init__(self, service: ArtifactService) -> None:
        self.service = service

    async def stat(self, raw: bytes, context: Context) -> bytes:
        request = await _decode(artifact_pb2.StatRequest, raw, context)
        async with _answer_errors(context):
            stat = await self.service.stat(request.sha256)
        response = artifact_pb2.StatResponse(
            exists=stat.exists, committed_bytes=stat.committed_bytes, size=stat.size
        )
        return response.SerializeToString()

    async def upload(self, raw_chunks: AsyncIterator[bytes], context: Context) -> bytes:
        chunks = aiter(raw_chunks)
        async with _answer_errors(context):
            try:
                first = _parse(artifact_pb2.UploadChunk, await anext(chunks))
            except StopAsyncIteration:
                raise InvalidBlobRequestError("empty Upload stream: send a header first") from None
            if first.WhichOneof("payload") != "header":
                raise InvalidBlobRequestError("the first Upload message must hold the header")
            header = first.header
            info = _info(header) if header.HasField("metadata") else None
            result = await self.service.upload(
                header.sha256,
                total_size=header.total_size,
                offset=header.offset,
                chunks=_data(chunks),
                info=info,
            )
        response = artifact_pb2.UploadResponse(
            sha256=result.sha256, committed_bytes=result.committed_bytes, committed=result.committed
        )
        return response.SerializeToString()

    async def download(self, raw: bytes, context: Context) -> AsyncIterator[bytes]:
        request = await _decode(artifact_pb2.DownloadRequest, raw, context)
        async with _answer_errors(context):
            reader = await self.service.open_reader(request.sha256, offset=request.offset)
            try:
                while True:
                    offset = reader.position
                    data = await asyncio.to_thread(reader.read)
                    if not data:
                        break
                    yield artifact_pb2.DownloadChunk(data=data, offset=offset).SerializeToString()
            finally:
                reader.close()


def _info(header: Any) -> ArtifactInfo:
    metadata = header.metadata
    return ArtifactInfo.create(
        run_id=metadata.run_id,
        name=metadata.name,
        kind=metadata.kind,
        mime_type=metadata.mime_type,
        attributes=dict(metadata.attributes),
    )


async def _data(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for raw in chunks:
        chunk = _parse(artifact_pb2.UploadChunk, raw)
        if chunk.WhichOneof("payload") != "data":
            raise InvalidBlobRequestError("only the first Upload message may hold a header")
        yield chunk.data


def _parse(cls: type[M], raw: bytes) -> M:
    message = cls()
    try:
        message.ParseFromString(raw)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise InvalidBlobRequestError(
            f"message is not a valid {cls.DESCRIPTOR.full_name} protobuf: {exc}"
        ) from None
    return message


async def _decode(cls: type[M], raw: bytes, context: Context) -> M:
    try:
        return _parse(cls, raw)
    except InvalidBlobRequestError as exc:
        await context.abort(exc.grpc_code, str(exc))
        raise  # abort raises; this line only tells type checkers so


@contextlib.asynccontextmanager
async def _answer_errors(context: Context) -> AsyncIterator[None]:
    """Turn store and pipeline errors into the gRPC status the client should see."""
    try:
        yield
    except OffsetMismatchError as exc:
        await context.abort(
            exc.grpc_code,
            str(exc),
            trailing_metadata=((COMMITTED_BYTES_KEY, str(exc.committed_bytes)),),
        )
    except BlobError as exc:
        await context.abort(exc.grpc_code, str(exc))
    except RetryableExportError as exc:
        await abort_retry(context, f"artifact event not taken: {exc}", exc.retry_after_s or 1.0)
    except PermanentExportError as exc:
        await context.abort(grpc.StatusCode.INTERNAL, f"artifact event refused: {exc}")
    except (asyncio.CancelledError, grpc.aio.AbortError):
        raise
    except OSError as exc:
        logger.exception("artifact store failed")
        await abort_retry(context, f"artifact store failed: {exc.strerror or exc}", 5.0)
