"""Forward the blobs of ``ml.artifact`` events to the next hop, before the events.

A sidecar's artifact store dies with its pod; the gateway's does not. So before the
``otlp`` exporter forwards a logs request, it makes sure the next hop holds every
blob the request's ``ml.artifact`` events name: Stat, then a resumable Upload from
the bytes the next hop already has. The blob travels without metadata (the
forwarded event itself announces it), so the gateway stores the event once.

A next hop that answers Stat with UNIMPLEMENTED is a plain OpenTelemetry collector:
blobs are not forwarded (said once), the events still are. A blob missing here or
refused for good by the next hop is logged and skipped, never blocking the events.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from trainwire.collector.artifacts import (
    CHUNK_BYTES,
    BlobNotFoundError,
    BlobStore,
    InvalidBlobRequestError,
    check_sha256,
)
from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.proto import artifact_pb2, artifact_pb2_grpc
from trainwire.records import artifact_digests as named_digests
from trainwire.transports.grpc import classify_rpc_error

__all__ = ["BlobForwarder", "artifact_digests"]

logger = logging.getLogger(__name__)

_MIN_BYTES_PER_S = 1024 * 1024
"""Upload deadline: ``timeout_s`` plus the blob's size at this (slow) rate."""
_ATTEMPTS = 3
_REMEMBERED = 4096


def artifact_digests(request: ExportLogsServiceRequest) -> list[str]:
    """The valid SHA-256 digests that ``ml.artifact`` events of ``request`` name, in order."""
    valid = []
    for sha256 in named_digests(request):
        try:
            valid.append(check_sha256(sha256))
        except InvalidBlobRequestError:
            continue
    return valid


class BlobForwarder:
    """Copies blobs from a local store to the next hop's ArtifactService. Blocking calls."""

    def __init__(
        self,
        store: BlobStore,
        channel: grpc.Channel,
        *,
        target: str,
        metadata: Sequence[tuple[str, str]],
        timeout_s: float,
    ) -> None:
        self.store = store
        self.target = target
        self._stub = artifact_pb2_grpc.ArtifactServiceStub(channel)  # type: ignore[no-untyped-call]
        self._metadata = tuple(metadata)
        self._timeout_s = timeout_s
        self._done: OrderedDict[str, None] = OrderedDict()
        self.next_hop_has_artifacts: bool | None = None
        """None until known; False once the next hop answered UNIMPLEMENTED."""
        self.forwarded = 0
        self.skipped = 0

    def forward(self, digests: Sequence[str]) -> None:
        """Make sure the next hop holds each blob; raise RetryableExportError to try later."""
        for sha256 in digests:
            if self.next_hop_has_artifacts is False:
                return
            if sha256 not in self._done:
                self._forward_one(sha256)
                self._remember(sha256)

    def _forward_one(self, sha256: str) -> None:
        for _ in range(_ATTEMPTS):
            stat = self._stat(sha256)
            if stat is None or stat.exists:
                return
            try:
                blob, size = self.store.open_blob(sha256)
            except BlobNotFoundError:
                logger.warning(
                    "artifact blob %s is not in the local store %s; its event goes on without it",
                    sha256,
                    self.store.directory,
                )
                self.skipped += 1
                return
            with blob:
                if self._upload(sha256, blob, size, stat.committed_bytes):
                    return
        raise RetryableExportError(
            f"artifact service at {self.target}: blob {sha256} not committed after"
            f" {_ATTEMPTS} attempts"
        )

    def _stat(self, sha256: str) -> Any:
        try:
            stat = self._stub.Stat(
                artifact_pb2.StatRequest(sha256=sha256),
                timeout=self._timeout_s,
                metadata=self._metadata,
            )
        except grpc.RpcError as exc:
            if isinstance(exc, grpc.Call) and exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                logger.warning(
                    "%s has no trainwire ArtifactService (a plain OpenTelemetry collector?):"
                    " artifact events are forwarded, their blobs stay here",
                    self.target,
                )
                self.next_hop_has_artifacts = False
                return None
            raise classify_rpc_error(exc, self.target) from None
        self.next_hop_has_artifacts = True
        return stat

    def _upload(self, sha256: str, blob: BinaryIO, size: int, offset: int) -> bool:
        """One Upload stream from ``offset``; True once settled (committed or refused for good)."""
        if offset > size:
            offset = 0
        try:
            response = self._stub.Upload(
                _chunks(blob, sha256, size, offset),
                timeout=self._timeout_s + size / _MIN_BYTES_PER_S,
                metadata=self._metadata,
            )
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED):
                return False  # another offset, or a concurrent upload: Stat again
            verdict = classify_rpc_error(exc, self.target)
            if isinstance(verdict, PermanentExportError):
                logger.error("artifact blob %s refused by %s: %s", sha256, self.target, verdict)
                self.skipped += 1
                return True  # never retried; the event goes on without its blob
            raise verdict from None
        if not response.committed:
            return False  # the stream ended early: Stat and resume
        self.forwarded += 1
        return True

    def _remember(self, sha256: str) -> None:
        self._done[sha256] = None
        while len(self._done) > _REMEMBERED:
            self._done.popitem(last=False)


def _chunks(blob: BinaryIO, sha256: str, size: int, offset: int) -> Iterator[Any]:
    header = artifact_pb2.UploadHeader(sha256=sha256, total_size=size, offset=offset)
    yield artifact_pb2.UploadChunk(header=header)
    blob.seek(offset)
    while data := blob.read(CHUNK_BYTES):
        yield artifact_pb2.UploadChunk(data=data)
