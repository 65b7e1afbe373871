"""Why an artifact request failed, and how each reason is answered over gRPC and HTTP.

::

    BlobError                   (TrainwireError)
    ├── InvalidBlobRequestError     malformed digest, chunk or header  INVALID_ARGUMENT / 400
    │   └── DigestMismatchError     bytes do not hash to the digest    INVALID_ARGUMENT / 400
    ├── BlobTooLargeError           over ``max_blob_size_mib``         RESOURCE_EXHAUSTED / 413
    ├── OffsetMismatchError         resume at ``committed_bytes``      FAILED_PRECONDITION / 409
    ├── UploadInProgressError       another upload holds the blob      ABORTED / 409
    ├── BlobNotFoundError           no such blob                       NOT_FOUND / 404
    ├── OffsetOutOfRangeError       read past the end                  OUT_OF_RANGE / 416
    └── CorruptBlobError            stored bytes no longer match       DATA_LOSS / 500
"""

from __future__ import annotations

import grpc

from trainwire.errors import TrainwireError

__all__ = [
    "BlobError",
    "BlobNotFoundError",
    "BlobTooLargeError",
    "CorruptBlobError",
    "DigestMismatchError",
    "InvalidBlobRequestError",
    "OffsetMismatchError",
    "OffsetOutOfRangeError",
    "UploadInProgressError",
]


class BlobError(TrainwireError):
    """An artifact request the store cannot serve; the message says why and what to do."""

    grpc_code = grpc.StatusCode.INTERNAL
    http_status = 500


class InvalidBlobRequestError(BlobError):
    """The request is malformed (a digest that is not 64 hex characters, a bad chunk)."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class DigestMismatchError(InvalidBlobRequestError):
    """All bytes arrived but they do not hash to the digest; nothing was committed."""


class BlobTooLargeError(BlobError):
    """The blob is larger than the store accepts."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 413


class OffsetMismatchError(BlobError):
    """The upload does not start where the committed bytes end."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 409

    def __init__(self, message: str, *, committed_bytes: int) -> None:
        super().__init__(message)
        self.committed_bytes = committed_bytes


class UploadInProgressError(BlobError):
    """Another upload of the same blob is running; Stat and retry shortly."""

    grpc_code = grpc.StatusCode.ABORTED
    http_status = 409


class BlobNotFoundError(BlobError):
    """No committed blob has this digest."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class OffsetOutOfRangeError(BlobError):
    """A read starts beyond the blob's end."""

    grpc_code = grpc.StatusCode.OUT_OF_RANGE
    http_status = 416


class CorruptBlobError(BlobError):
    """The stored bytes no longer hash to the blob's digest; the blob was set aside."""

    grpc_code = grpc.StatusCode.DATA_LOSS
    http_status = 500
