"""A content-addressed blob store on disk.

Layout under the store's directory (every path comes from a validated SHA-256,
never from an artifact name, so nothing can be written outside it)::

    blobs/ab/cdef…      committed blobs, read-only, named by their digest
    partial/<sha256>    bytes of an upload in progress
    partial/<sha256>.json   {"total_size", "committed_bytes"}: what is durable so far
    corrupt/<sha256>.<ns>   blobs whose bytes stopped matching their digest

An upload appends to its partial file and, at each checkpoint, fsyncs it and then
records how many bytes are durable; a restarted collector trusts only that count
(truncating any tail written after it), so Stat reports a safe resume offset. Once
all bytes are there and hash to the digest, the file is fsynced and atomically
renamed into ``blobs/``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from trainwire.collector.artifacts.errors import (
    BlobNotFoundError,
    BlobTooLargeError,
    CorruptBlobError,
    InvalidBlobRequestError,
    OffsetOutOfRangeError,
)

__all__ = ["CHUNK_BYTES", "MAX_CHUNK_BYTES", "BlobReader", "BlobStat", "BlobStore", "check_sha256"]

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
"""Recommended chunk size of uploads and size of download chunks (1 MiB)."""
MAX_CHUNK_BYTES = 4 * 1024 * 1024
"""Largest data chunk one Upload message may carry."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_sha256(sha256: str) -> str:
    """Return ``sha256`` if it is 64 lowercase hex characters; raise InvalidBlobRequestError."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        shown = sha256[:80] if isinstance(sha256, str) else type(sha256).__name__
        raise InvalidBlobRequestError(
            f"sha256 {shown!r} is not a SHA-256 digest: expected 64 lowercase hex characters"
        )
    return sha256


@dataclass(frozen=True)
class BlobStat:
    """What the store knows of one blob (the fields of the proto's StatResponse)."""

    exists: bool
    committed_bytes: int
    size: int


class BlobStore:
    """Blobs by SHA-256 under one directory. Methods block: call them in a thread."""

    def __init__(self, directory: str | os.PathLike[str], *, max_blob_bytes: int) -> None:
        self.directory = Path(directory).expanduser()
        self.max_blob_bytes = max_blob_bytes
        self._active: set[str] = set()
        self._lock = threading.Lock()

    def open(self) -> None:
        """Create the directory layout if missing."""
        for sub in ("blobs", "partial", "corrupt"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)

    def blob_path(self, sha256: str) -> Path:
        """Where the committed blob ``sha256`` lives."""
        check_sha256(sha256)
        return self.directory / "blobs" / sha256[:2] / sha256[2:]

    def partial_path(self, sha256: str) -> Path:
        """Where the bytes of an upload of ``sha256`` in progress live."""
        return self.directory / "partial" / check_sha256(sha256)

    def state_path(self, sha256: str) -> Path:
        """Where the durable progress of an upload of ``sha256`` is recorded."""
        return self.directory / "partial" / f"{check_sha256(sha256)}.json"

    def check_size(self, total_size: int) -> None:
        """Raise BlobTooLargeError if a blob of ``total_size`` bytes is over the limit."""
        if total_size > self.max_blob_bytes:
            raise BlobTooLargeError(
                f"blob of {total_size} bytes is larger than this collector accepts"
                f" ({self.max_blob_bytes} bytes; raise artifacts::max_blob_size_mib)"
            )

    def stat(self, sha256: str) -> BlobStat:
        """Whether ``sha256`` is committed and, if not, how many bytes of it are durable."""
        path = self.blob_path(sha256)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            state = self.read_state(sha256)
            return BlobStat(False, state[1] if state else 0, 0)
        # A sender about to reference this blob again: make it young, so `trainwire gc`
        # (which spares blobs younger than --min-age) cannot take it before the event lands.
        try:
            os.utime(path)
        except OSError:
            pass
        return BlobStat(True, size, size)

    def read_state(self, sha256: str) -> tuple[int, int] | None:
        """``(total_size, committed_bytes)`` of an interrupted upload, or None."""
        try:
            state = json.loads(self.state_path(sha256).read_text())
            total, committed = int(state["total_size"]), int(state["committed_bytes"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return (total, committed) if 0 <= committed <= total else None

    def write_state(self, sha256: str, total_size: int, committed_bytes: int) -> None:
        """Record durable progress atomically (the data must be fsynced first)."""
        path = self.state_path(sha256)
        tmp = path.with_suffix(".json.tmp")
        with open(tmp, "w") as f:
            json.dump({"total_size": total_size, "committed_bytes": committed_bytes}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def claim(self, sha256: str) -> bool:
        """Mark an upload of ``sha256`` active in this process; False if one already is."""
        with self._lock:
            if sha256 in self._active:
                return False
            self._active.add(sha256)
            return True

    def release(self, sha256: str) -> None:
        """Forget an active upload."""
        with self._lock:
            self._active.discard(sha256)

    def open_blob(self, sha256: str) -> tuple[BinaryIO, int]:
        """Open the committed blob for reading; return it with its size."""
        try:
            f = open(self.blob_path(sha256), "rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError:
            raise BlobNotFoundError(f"no blob {sha256} in this store") from None
        return f, os.fstat(f.fileno()).st_size

    def verify(self, sha256: str) -> int:
        """Hash the committed blob; return its size, or quarantine it and raise CorruptBlobError."""
        f, size = self.open_blob(sha256)
        with f:
            hasher = hashlib.sha256()
            while chunk := f.read(CHUNK_BYTES):
                hasher.update(chunk)
        if hasher.hexdigest() != sha256:
            self.quarantine(sha256)
        return size

    def quarantine(self, sha256: str) -> None:
        """Move a blob whose bytes no longer match aside, then raise CorruptBlobError.

        Stat then reports it missing, so a client can upload it again.
        """
        target = self.directory / "corrupt" / f"{sha256}.{time.time_ns()}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.blob_path(sha256), target)
        except FileNotFoundError:
            pass
        logger.error("artifact blob %s does not match its digest; moved to %s", sha256, target)
        raise CorruptBlobError(
            f"blob {sha256} is corrupt on the server (its bytes no longer match the digest);"
            " it was set aside: upload it again"
        )


class BlobReader:
    """Reads a committed blob from an offset in chunks, optionally checking its digest.

    With ``verify``, the bytes before ``offset`` and after ``end`` are hashed too, and
    the read that reaches the end raises CorruptBlobError if the digest differs.
    """

    def __init__(
        self,
        store: BlobStore,
        sha256: str,
        *,
        offset: int = 0,
        end: int | None = None,
        verify: bool = True,
    ) -> None:
        self._store = store
        self.sha256 = sha256
        self._file, self.size = store.open_blob(sha256)
        self.end = self.size if end is None else min(end, self.size)
        if offset < 0 or offset > self.size or offset > self.end:
            self._file.close()
            raise OffsetOutOfRangeError(
                f"offset {offset} is outside blob {sha256} of {self.size} bytes"
            )
        self.position = offset
        self._hasher = hashlib.sha256() if verify else None
        self._prefix_done = not verify or offset == 0

    def read(self, limit: int = CHUNK_BYTES) -> bytes:
        """The next chunk up to ``end``; b"" once done (after checking the digest)."""
        if not self._prefix_done:
            self._hash_range(0, self.position)
            self._prefix_done = True
        want = min(limit, self.end - self.position)
        if want <= 0:
            self._finish()
            return b""
        self._file.seek(self.position)
        data = self._file.read(want)
        if len(data) < want:
            self._store.quarantine(self.sha256)  # truncated since it was committed
        if self._hasher is not None:
            self._hasher.update(data)
        self.position += len(data)
        return data

    def _hash_range(self, start: int, stop: int) -> None:
        assert self._hasher is not None
        self._file.seek(start)
        while start < stop and (chunk := self._file.read(min(CHUNK_BYTES, stop - start))):
            self._hasher.update(chunk)
            start += len(chunk)

    def _finish(self) -> None:
        if self._hasher is None:
            return
        self._hash_range(self.end, self.size)
        digest, self._hasher = self._hasher.hexdigest(), None
        if digest != self.sha256:
            self.close()
            self._store.quarantine(self.sha256)

    def close(self) -> None:
        """Close the file; safe twice."""
        self._file.close()
