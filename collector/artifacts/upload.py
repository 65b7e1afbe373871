"""One resumable upload into a :class:`BlobStore`: append, checkpoint, verify, commit.

Concurrent uploads of one blob are refused rather than interleaved: a blob is
claimed in this process and its partial file is ``flock``-ed against other
processes sharing the directory. The loser gets UploadInProgressError and
resumes from Stat once the winner is done (or finds the blob committed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from types import TracebackType

from trainwire.collector.artifacts.errors import (
    DigestMismatchError,
    InvalidBlobRequestError,
    OffsetMismatchError,
    UploadInProgressError,
)
from trainwire.collector.artifacts.store import CHUNK_BYTES, MAX_CHUNK_BYTES, BlobStore

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the in-process claim still holds
    fcntl = None  # type: ignore[assignment]

__all__ = ["BlobUpload"]

logger = logging.getLogger(__name__)

_CHECKPOINT_BYTES = 8 * 1024 * 1024
"""Make progress durable (fsync + state) at least this often during a stream."""


class BlobUpload:
    """The write side of one Upload stream. Blocking: call it in a thread.

    ``committed`` is True at once when the blob already exists (the stream's data
    is then not needed), or after :meth:`finish` verified and committed it.
    """

    def __init__(self, store: BlobStore, sha256: str, *, total_size: int, offset: int) -> None:
        store.check_size(total_size)
        self.store = store
        self.sha256 = sha256
        self.total_size = total_size
        self.position = 0
        self.committed = False
        self._fd: int | None = None
        self._hasher: hashlib._Hash | None = None
        self._durable = 0
        # A cancelled stream's close() must wait for the write still running in its thread.
        self._mutex = threading.Lock()
        if not store.claim(sha256):
            raise UploadInProgressError(
                f"another upload of blob {sha256} is in progress; Stat it and retry shortly"
            )
        try:
            self._begin(offset)
        except BaseException:
            self._close()
            raise

    def _begin(self, offset: int) -> None:
        if self.store.blob_path(self.sha256).exists():
            self.committed = True
            self.position = self.total_size
            return
        path = self.store.partial_path(self.sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadInProgressError(
                    f"another process is uploading blob {self.sha256}; Stat it and retry shortly"
                ) from None
        state = self.store.read_state(self.sha256)
        committed = state[1] if state and state[0] == self.total_size else 0
        if state and state[0] != self.total_size and offset == 0:
            logger.info("blob %s: restarting an upload that claimed another size", self.sha256)
        # Bytes after the last checkpoint may not have reached the disk: never trust them.
        os.ftruncate(self._fd, committed)
        self._durable = self.position = committed
        if offset != committed:
            raise OffsetMismatchError(
                f"upload of blob {self.sha256} starts at offset {offset} but {committed} bytes"
                f" are committed; resume at offset {committed}",
                committed_bytes=committed,
            )
        if committed == 0:
            self._hasher = hashlib.sha256()  # hash as we go; a resumed upload re-reads at the end
            self.store.write_state(self.sha256, self.total_size, 0)

    def write(self, data: bytes) -> None:
        """Append the next bytes of the blob."""
        with self._mutex:
            self._write(data)

    def _write(self, data: bytes) -> None:
        if self.committed or self._fd is None:
            return
        if len(data) > MAX_CHUNK_BYTES:
            raise InvalidBlobRequestError(
                f"chunk of {len(data)} bytes is over the {MAX_CHUNK_BYTES}-byte limit;"
                f" send chunks of {CHUNK_BYTES} bytes"
            )
        if self.position + len(data) > self.total_size:
            raise InvalidBlobRequestError(
                f"upload of blob {self.sha256} sent more than its total_size of"
                f" {self.total_size} bytes"
            )
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, self.position)
            view = view[written:]
            self.position += written
        if self._hasher is not None:
            self._hasher.update(data)
        if self.position - self._durable >= _CHECKPOINT_BYTES:
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Make the bytes written so far durable and record them for Stat and resume."""
        if self._fd is None or self.committed or self.position == self._durable:
            return
        os.fsync(self._fd)
        self.store.write_state(self.sha256, self.total_size, self.position)
        self._durable = self.position

    def finish(self) -> bool:
        """Commit if every byte arrived and the digest matches; return ``committed``.

        Raises:
            DigestMismatchError: the bytes do not hash to the digest; the partial
                upload is discarded so the next attempt starts at offset 0.
        """
        with self._mutex:
            return self._finish()

    def _finish(self) -> bool:
        if self.committed or self._fd is None:
            return self.committed
        if self.position < self.total_size:
            self._checkpoint()
            return False
        os.fsync(self._fd)
        digest = self._hasher.hexdigest() if self._hasher else self._hash_file()
        partial = self.store.partial_path(self.sha256)
        if digest != self.sha256:
            self._discard(partial)
            raise DigestMismatchError(
                f"the {self.total_size} bytes uploaded hash to {digest}, not {self.sha256};"
                " nothing was committed: upload again from offset 0"
            )
        target = self.store.blob_path(self.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.fchmod(self._fd, 0o444)
        os.replace(partial, target)
        _fsync_directory(target.parent)
        self.store.state_path(self.sha256).unlink(missing_ok=True)
        self.committed = True
        return True

    def _hash_file(self) -> str:
        assert self._fd is not None
        hasher = hashlib.sha256()
        offset = 0
        while chunk := os.pread(self._fd, CHUNK_BYTES, offset):
            hasher.update(chunk)
            offset += len(chunk)
        return hasher.hexdigest()

    def _discard(self, partial: Path) -> None:
        partial.unlink(missing_ok=True)
        self.store.state_path(self.sha256).unlink(missing_ok=True)
        self._durable = self.position = 0

    def close(self) -> None:
        """Checkpoint what arrived, unlock and release the blob; safe twice."""
        with self._mutex:
            self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                if not self.committed and self.position > self._durable:
                    os.fsync(fd)
                    self.store.write_state(self.sha256, self.total_size, self.position)
            finally:
                os.close(fd)  # also drops the flock
        self.store.release(self.sha256)

    def __enter__(self) -> BlobUpload:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _fsync_directory(path: Path) -> None:
    """Make a rename in ``path`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
