"""Artifact blobs: a content-addressed store and the service that fills and serves it.

The OTLP receiver mounts :class:`ArtifactService` on its gRPC server
(``service.add_to_grpc_server(server)``) and its HTTP twin on its aiohttp app
(``app.add_routes(artifact_routes(service))``); :func:`artifact_routes` imports
aiohttp only when first used.
"""

from __future__ import annotations

from typing import Any

from trainwire.collector.artifacts.config import ArtifactsConfig
from trainwire.collector.artifacts.errors import (
    BlobError,
    BlobNotFoundError,
    BlobTooLargeError,
    CorruptBlobError,
    DigestMismatchError,
    InvalidBlobRequestError,
    OffsetMismatchError,
    OffsetOutOfRangeError,
    UploadInProgressError,
)
from trainwire.collector.artifacts.events import ArtifactInfo, artifact_event, artifact_uid
from trainwire.collector.artifacts.service import ArtifactService, LogsSink, UploadResult
from trainwire.collector.artifacts.store import (
    CHUNK_BYTES,
    MAX_CHUNK_BYTES,
    BlobReader,
    BlobStat,
    BlobStore,
    check_sha256,
)
from trainwire.collector.artifacts.upload import BlobUpload

__all__ = [
    "CHUNK_BYTES",
    "MAX_CHUNK_BYTES",
    "ArtifactInfo",
    "ArtifactService",
    "ArtifactsConfig",
    "BlobError",
    "BlobNotFoundError",
    "BlobReader",
    "BlobStat",
    "BlobStore",
    "BlobTooLargeError",
    "BlobUpload",
    "CorruptBlobError",
    "DigestMismatchError",
    "InvalidBlobRequestError",
    "LogsSink",
    "OffsetMismatchError",
    "OffsetOutOfRangeError",
    "UploadInProgressError",
    "UploadResult",
    "artifact_event",
    "artifact_routes",
    "artifact_uid",
    "check_sha256",
]


def __getattr__(name: str) -> Any:
    if name == "artifact_routes":  # aiohttp (the `server` extra) only when the HTTP twin is used
        from trainwire.collector.artifacts.http import artifact_routes

        return artifact_routes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
