"""The artifact service: Stat, resumable Upload and Download over one blob store.

Protocol-neutral here (:meth:`ArtifactService.stat`, :meth:`~ArtifactService.upload`,
:meth:`~ArtifactService.open_reader`); the gRPC servicer (:mod:`.grpc_service`) and
the HTTP twin (:mod:`.http`) are thin adapters over it. Disk work runs in threads,
so the event loop never blocks on a large write or a digest.

Once a blob that came with metadata is committed, the ``ml.artifact`` event goes to
the logs consumer the service was given (the pipeline's, so the run store records
it). The event's ``log.record.uid`` comes from run, name and digest, so uploading
the same artifact again is stored once; the service also skips re-emitting an
event it already handed on.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from trainwire.collector.artifacts.config import ArtifactsConfig
from trainwire.collector.artifacts.events import ArtifactInfo, artifact_event, artifact_uid
from trainwire.collector.artifacts.store import BlobReader, BlobStat, BlobStore, check_sha256
from trainwire.collector.artifacts.upload import BlobUpload

if TYPE_CHECKING:
    import grpc.aio

__all__ = ["ArtifactService", "LogsSink", "UploadResult"]

logger = logging.getLogger(__name__)

LogsSink = Callable[[ExportLogsServiceRequest], Awaitable[None]]
"""Where ``ml.artifact`` events go: e.g. a pipeline consumer's ``consume_logs``."""

_REMEMBERED_EVENTS = 4096


@dataclass(frozen=True)
class UploadResult:
    """The outcome of one upload stream (the proto's UploadResponse)."""

    sha256: str
    committed_bytes: int
    committed: bool


class ArtifactService:
    """Stores artifact blobs and emits their ``ml.artifact`` events.

    Mount it next to OTLP::

        service = ArtifactService(config.artifacts, consume_logs=logs_consumer.consume_logs)
        service.add_to_grpc_server(grpc_server)          # trainwire.v1.ArtifactService
        app.add_routes(artifact_routes(service))          # /v1/artifacts/... (aiohttp)
    """

    def __init__(
        self,
        config: ArtifactsConfig | None = None,
        *,
        consume_logs: LogsSink | None = None,
        store: BlobStore | None = None,
    ) -> None:
        config = config or ArtifactsConfig()
        self.store = store or BlobStore(config.directory, max_blob_bytes=config.max_blob_bytes)
        self._consume_logs = consume_logs
        self._emitted: OrderedDict[str, None] = OrderedDict()
        self._opened = False

    def add_to_grpc_server(self, server: grpc.aio.Server) -> None:
        """Serve ``trainwire.v1.ArtifactService`` on a grpc.aio server (before it starts)."""
        from trainwire.collector.artifacts.grpc_service import add_to_server

        add_to_server(self, server)

    async def _ready(self) -> None:
        if not self._opened:
            await asyncio.to_thread(self.store.open)
            self._opened = True

    async def stat(self, sha256: str) -> BlobStat:
        """Whether the blob exists and how many bytes of an upload of it are committed."""
        check_sha256(sha256)
        await self._ready()
        return await asyncio.to_thread(self.store.stat, sha256)

    async def upload(
        self,
        sha256: str,
        *,
        total_size: int,
        offset: int,
        chunks: AsyncIterator[bytes],
        info: ArtifactInfo | None = None,
    ) -> UploadResult:
        """Append ``chunks`` at ``offset``; commit once complete and verified.

        A blob that already exists is not written again (its chunks are not read);
        its event is still emitted if ``info`` names an artifact not yet announced.

        Raises:
            BlobError: a subclass saying what was wrong (see :mod:`.errors`).
            ExportError: the event could not be handed on; the blob stays committed
                and a retry of the upload re-emits it.
        """
        check_sha256(sha256)
        self.store.check_size(total_size)
        await self._ready()
        upload = await asyncio.to_thread(
            BlobUpload, self.store, sha256, total_size=total_size, offset=offset
        )
        try:
            if not upload.committed:
                async for data in chunks:
                    await asyncio.to_thread(upload.write, data)
            committed = await asyncio.to_thread(upload.finish)
        finally:
            await asyncio.to_thread(upload.close)
        if not committed:
            return UploadResult(sha256, upload.position, False)
        size = (await asyncio.to_thread(self.store.stat, sha256)).size
        if info is not None:
            await self._emit(info, sha256, size)
        return UploadResult(sha256, size, True)

    async def open_reader(
        self, sha256: str, *, offset: int = 0, end: int | None = None, verify: bool = True
    ) -> BlobReader:
        """A reader of the committed blob from ``offset`` (close it when done)."""
        check_sha256(sha256)
        await self._ready()
        return await asyncio.to_thread(
            BlobReader, self.store, sha256, offset=offset, end=end, verify=verify
        )

    async def verify(self, sha256: str) -> int:
        """Check the blob's digest; return its size (CorruptBlobError if it no longer matches)."""
        check_sha256(sha256)
        await self._ready()
        return await asyncio.to_thread(self.store.verify, sha256)

    async def _emit(self, info: ArtifactInfo, sha256: str, size: int) -> None:
        if self._consume_logs is None:
            return
        uid = artifact_uid(info.run_id, info.name, sha256)
        if uid in self._emitted:
            return
        self._emitted[uid] = None  # claimed before awaiting, so a concurrent twin skips it
        try:
            await self._consume_logs(artifact_event(info, sha256=sha256, size=size))
        except BaseException:
            self._emitted.pop(uid, None)
            raise
        while len(self._emitted) > _REMEMBERED_EVENTS:
            self._emitted.popitem(last=False)
        logger.info(
            "artifact %r of run %s committed (%s, %d bytes)",
            info.name,
            info.run_id,
            sha256[:12],
            size,
        )

    def __repr__(self) -> str:
        return f"ArtifactService(directory={os.fspath(self.store.directory)!r})"
