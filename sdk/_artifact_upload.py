"""The run's artifact uploader: one background thread, one upload at a time.

For each pending artifact (see :mod:`trainwire.artifacts`) it hashes the snapshot,
then hands it to a sink: a collector's ArtifactService (``Stat`` first, so a blob the
collector has is never sent again; otherwise a resumable ``Upload`` from the bytes
it already committed) or, in the embedded default, the local content-addressed
store next to the database, followed by the ``ml.artifact`` event through the run's
sender. Retryable failures back off (jittered, doubling); a refusal keeps the
artifact pending for ``trainwire sync``. Nothing here ever blocks ``log()``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from trainwire.artifacts import PendingArtifact, remove_pending, with_sha256
from trainwire.errors import PermanentExportError, RetryableExportError

if TYPE_CHECKING:
    from trainwire.transports.base import Transport
    from trainwire.transports.grpc import GrpcTransport

__all__ = ["ArtifactUploader", "BlobSink", "UploadStats", "deliver_all", "live_sink", "sync_sink"]

logger = logging.getLogger("trainwire")

_HASH_CHUNK = 1024 * 1024
_REQUEST_TIMEOUT_S = 10.0
_INITIAL_BACKOFF_S = 0.2
_MAX_BACKOFF_S = 5.0

Emit = Callable[[PendingArtifact, str], bool]
"""Records the ``ml.artifact`` event of a committed blob; False if not (yet) recorded."""


class BlobSink(Protocol):
    """Where blobs go; raises RetryableExportError or PermanentExportError."""

    def put(self, pending: PendingArtifact, path: Path, should_stop: Callable[[], bool]) -> int:
        """Commit the blob at ``path`` and announce it; return the bytes sent (0 if held)."""

    def close(self) -> None:
        """Release connections; safe twice."""


@dataclass
class UploadStats:
    """What a run's uploader did."""

    delivered: int = 0
    already_stored: int = 0
    """Artifacts whose blob the destination had already: no byte of them was sent."""
    bytes_sent: int = 0
    resumed_from: int = 0
    """The offset of the last upload that resumed an interrupted one (0 if none did)."""


class RemoteSink:
    """A collector's ArtifactService, over the run's gRPC settings."""

    def __init__(self, transport: GrpcTransport, *, stats: UploadStats | None = None) -> None:
        self._transport = transport
        self._stats = stats

    def put(self, pending: PendingArtifact, path: Path, should_stop: Callable[[], bool]) -> int:
        """Stat, then Upload what the collector lacks, with the event's metadata."""
        assert pending.sha256 is not None
        sent, offset = self._transport.upload_blob(
            path,
            sha256=pending.sha256,
            size=pending.size,
            metadata=pending.metadata(),
            timeout_s=_REQUEST_TIMEOUT_S,
            should_stop=should_stop,
        )
        if self._stats is not None and offset:
            self._stats.resumed_from = offset
        return sent

    def close(self) -> None:
        """Close the channel."""
        self._transport.close()


class EmbeddedSink:
    """The embedded default's artifact store, then the event through ``emit``."""

    def __init__(self, directory: Path, emit: Emit) -> None:
        self.directory = directory
        self._emit = emit

    def put(self, pending: PendingArtifact, path: Path, should_stop: Callable[[], bool]) -> int:
        """Copy the snapshot into the store (if missing), then record the event."""
        from trainwire.transports.embedded import store_blob

        assert pending.sha256 is not None
        sent = store_blob(
            self.directory, path, sha256=pending.sha256, size=pending.size, should_stop=should_stop
        )
        if not self._emit(pending, pending.sha256):
            raise RetryableExportError(f"the event of artifact {pending.name!r} is not stored yet")
        return sent

    def close(self) -> None:
        """Nothing to release."""


class DryRunSink:
    """``init(dry_run=True)``: the event is printed with the rest; no blob is stored."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit

    def put(self, pending: PendingArtifact, path: Path, should_stop: Callable[[], bool]) -> int:
        """Hand the event on; store nothing."""
        assert pending.sha256 is not None
        if not self._emit(pending, pending.sha256):
            raise RetryableExportError(f"the event of artifact {pending.name!r} is not sent yet")
        return 0

    def close(self) -> None:
        """Nothing to release."""


def live_sink(run_dir: Path, emit: Emit, stats: UploadStats) -> BlobSink:
    """The sink of a live run: where its ``meta.json`` says its data goes."""
    meta = json.loads((run_dir / "meta.json").read_text())
    if meta.get("dry_run"):
        return DryRunSink(emit)
    if meta.get("endpoint"):
        from trainwire.transports.grpc import GrpcTransport

        return RemoteSink(GrpcTransport(str(meta["endpoint"])), stats=stats)
    if not meta.get("db_path"):
        raise PermanentExportError(f"{run_dir / 'meta.json'} names no destination")
    from trainwire.transports.embedded import artifact_directory

    return EmbeddedSink(artifact_directory(meta["db_path"]), emit)


def sync_sink(transport: Transport) -> BlobSink:
    """The sink of ``trainwire sync``: the transport it ships the spool with."""
    from trainwire.transports.embedded import EmbeddedTransport, artifact_directory
    from trainwire.transports.grpc import GrpcTransport

    if isinstance(transport, GrpcTransport):
        return RemoteSink(transport)
    if isinstance(transport, EmbeddedTransport):
        return EmbeddedSink(artifact_directory(transport.db_path), transport.announce_artifact)
    raise PermanentExportError(f"{type(transport).__name__} cannot take artifacts")


def deliver_all(
    directory: Path, pending: list[PendingArtifact], sink: BlobSink, attempts: int
) -> tuple[int, int]:
    """Deliver each artifact with up to ``attempts`` tries; return ``(delivered, left)``."""
    policy = _Policy(lambda: False, _sleep, attempts)
    delivered = sum(_deliver(directory, item, sink, policy, UploadStats()) for item in pending)
    return delivered, len(pending) - delivered


@dataclass(frozen=True)
class _Policy:
    should_stop: Callable[[], bool]
    wait: Callable[[float], bool]
    """Sleeps before a retry; False if the wait was cut short by a stop."""
    attempts: int | None = None
    """None: until delivered, refused or stopped."""


def _deliver(
    directory: Path, pending: PendingArtifact, sink: BlobSink, policy: _Policy, stats: UploadStats
) -> bool:
    """Hash (once), then put until delivered; False if stopped, refused or out of attempts."""
    ready = _prepared(directory, pending, policy.should_stop)
    backoff = _INITIAL_BACKOFF_S
    attempt = 0
    while ready is not None and not policy.should_stop():
        attempt += 1
        try:
            sent = sink.put(ready, ready.blob_path(directory), policy.should_stop)
        except PermanentExportError as exc:
            logger.error(
                "trainwire: artifact %r was refused (%s); it stays in %s for `trainwire sync`",
                ready.name,
                exc,
                directory,
            )
            return False
        except (RetryableExportError, OSError) as exc:
            if policy.attempts is not None and attempt >= policy.attempts:
                logger.warning("trainwire: artifact %r not delivered: %s", ready.name, exc)
                return False
            retry_after = getattr(exc, "retry_after_s", None)
            delay = (backoff if retry_after is None else retry_after) * random.uniform(0.8, 1.2)
            backoff = min(backoff * 2, _MAX_BACKOFF_S)
            (logger.warning if attempt == 1 else logger.debug)(
                "trainwire: artifact %r: %s; retrying in %.1fs", ready.name, exc, delay
            )
            if not policy.wait(delay):
                return False
            continue
        stats.delivered += 1
        stats.bytes_sent += sent
        if sent == 0 and ready.size > 0:
            stats.already_stored += 1
        remove_pending(directory, ready)
        return True
    return False


def _prepared(
    directory: Path, pending: PendingArtifact, should_stop: Callable[[], bool]
) -> PendingArtifact | None:
    """Check the snapshot and record its digest once; None if stopped or it cannot be sent."""
    path = pending.blob_path(directory)
    try:
        intact = path.stat().st_size == pending.size
    except FileNotFoundError:
        intact = False
    if not intact:
        logger.error(
            "trainwire: the snapshot of artifact %r (%s) is missing or damaged; it is dropped",
            pending.name,
            path,
        )
        remove_pending(directory, pending)
        return None
    if pending.sha256 is not None:
        return pending
    sha256 = _sha256(path, should_stop)
    return None if sha256 is None else with_sha256(directory, pending, sha256)


def _sleep(delay_s: float) -> bool:
    time.sleep(delay_s)
    return True


def _sha256(path: Path, should_stop: Callable[[], bool]) -> str | None:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            if should_stop():
                return None
            hasher.update(chunk)
    return hasher.hexdigest()


class ArtifactUploader:
    """The thread that delivers one run's artifacts, started by the first one."""

    def __init__(self, directory: Path, open_sink: Callable[[UploadStats], BlobSink]) -> None:
        self.directory = directory
        self.stats = UploadStats()
        self.gate = threading.Lock()
        """Held while the event of a committed blob is handed to the sender."""
        self._open_sink = open_sink
        self._queue: deque[PendingArtifact] = deque()
        self._outstanding = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self.given_up = 0
        """Artifacts refused or failed here; they stay pending for ``trainwire sync``."""

    @property
    def stopping(self) -> bool:
        """Whether ``close()`` has been called (no more events may be handed on)."""
        return self._stop.is_set()

    def submit(self, pending: PendingArtifact) -> None:
        """Queue one snapshotted artifact; starts the thread on first use."""
        with self._changed:
            self._queue.append(pending)
            self._outstanding += 1
            self._changed.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="trainwire-artifacts", daemon=True
                )
                self._thread.start()

    def wait(self, timeout_s: float | None) -> bool:
        """Wait (at most ``timeout_s``) until every queued artifact is delivered; False if not."""
        if self._pid != os.getpid():
            return True  # a forked child: the parent's thread is not ours to wait for
        deadline = None if timeout_s is None else time.monotonic() + max(timeout_s, 0.0)
        with self._changed:
            while self._outstanding:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(left)
            return self._outstanding == 0 and self.given_up == 0

    def close(self, timeout_s: float) -> bool:
        """:meth:`wait`, then stop the thread; True if every artifact was delivered.

        What was not delivered stays pending in the run directory for ``trainwire sync``.
        """
        deadline = time.monotonic() + max(timeout_s, 0.0)
        done = self.wait(timeout_s)
        with self._changed:
            self._queue.clear()
            with self.gate:
                self._stop.set()
            self._changed.notify_all()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(max(0.0, min(deadline - time.monotonic(), 1.0)))
        return done

    @property
    def outstanding(self) -> int:
        """Artifacts submitted and not yet delivered (or given up on)."""
        return self._outstanding

    def _loop(self) -> None:
        sink: BlobSink | None = None
        policy = _Policy(self._stop.is_set, self._wait)
        try:
            while (pending := self._next()) is not None:
                try:
                    if sink is None:
                        sink = self._open_sink(self.stats)
                    delivered = _deliver(self.directory, pending, sink, policy, self.stats)
                    if not delivered and not self._stop.is_set():
                        self.given_up += 1
                except Exception:  # a bug must not kill uploads silently; the file stays
                    logger.exception("trainwire: uploading artifact %r failed", pending.name)
                    self.given_up += 1
                finally:
                    with self._changed:
                        self._outstanding -= 1
                        self._changed.notify_all()
        finally:
            if sink is not None:
                sink.close()

    def _next(self) -> PendingArtifact | None:
        with self._changed:
            while not self._queue and not self._stop.is_set():
                self._changed.wait()
            return None if self._stop.is_set() else self._queue.popleft()

    def _wait(self, delay_s: float) -> bool:
        """Sleep before a retry; False (at once) when the uploader is stopped."""
        return not self._stop.wait(delay_s)
