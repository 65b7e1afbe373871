"""Artifacts of a run: ``log_artifact``, whirr's ``save_artifact``, ``log_text``, ``log_figure``.

A mixin of :class:`trainwire.Run`. Each call snapshots the content into the run
directory before it returns (checkpoint rotation cannot change what is uploaded)
and queues it for the run's uploader thread; ``log()`` never waits on it. The
blob is hashed and uploaded in the background, and the ``ml.artifact`` event is
recorded only once the blob is committed (see :mod:`trainwire._artifact_upload`).
``finish()`` waits for queued uploads within its timeout; what is left stays in
``<run dir>/artifacts/`` for ``trainwire sync``.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwire import semconv
from trainwire._artifact_upload import ArtifactUploader, BlobSink, UploadStats, live_sink
from trainwire.artifacts import (
    ARTIFACTS_DIRNAME,
    PendingArtifact,
    artifact_kind,
    guess_mime_type,
    normalize_name,
    pending_artifacts,
    snapshot_bytes,
    snapshot_file,
)
from trainwire.errors import InvalidValueError
from trainwire.records import EventRecord

if TYPE_CHECKING:
    from trainwire.sender import Sender

__all__ = ["ArtifactMethods"]

logger = logging.getLogger("trainwire")

_EVENT_FLUSH_TIMEOUT_S = 30.0
_uploader_lock = threading.Lock()


class ArtifactMethods:
    """Files, text and figures of a run, uploaded in the background."""

    _sender: Sender
    _artifacts: ArtifactUploader | None = None
    _figures: int = 0

    @property
    def id(self) -> str:
        raise NotImplementedError

    @property
    def run_dir(self) -> Path:
        raise NotImplementedError

    def _check_open(self) -> bool:
        raise NotImplementedError

    def log_artifact(
        self, path: str | os.PathLike[str], name: str | None = None, kind: str = "file"
    ) -> str | None:
        """Snapshot the file at ``path`` now and upload it in the background; return its name.

        The copy is made before this returns (instant on copy-on-write file systems,
        else a copy at disk speed on this thread); hashing and upload happen on the
        run's uploader thread. ``name`` (default: the file's name) is a relative path
        such as ``"checkpoints/best.pt"``; ``kind`` is one of file, model, text,
        figure, table. If the snapshot cannot be written (disk full) the error is
        logged and None returned: a training step is never interrupted by storage.
        In a forked child (a DataLoader worker) it does nothing and returns None.

        Raises:
            InvalidValueError: no such file, a bad name (absolute, ``..``) or kind.
            RunFinishedError: the run has finished.
        """
        if not self._check_open():
            return None  # a forked child: never sends
        source = Path(os.fspath(path))
        if not source.is_file():
            what = "is not a file" if source.exists() else "does not exist"
            raise InvalidValueError(f"artifact {os.fspath(path)!r} {what}")
        clean = normalize_name(source.name if name is None else name)
        kind = artifact_kind(kind)
        return self._snapshot(
            lambda d, **fields: snapshot_file(source, d, **fields),
            clean,
            kind,
            guess_mime_type(clean),
        )

    def save_artifact(
        self, source_path: str | os.PathLike[str], artifact_name: str | None = None
    ) -> str | None:
        """Save a file as an artifact (whirr's name): the same as ``log_artifact``."""
        return self.log_artifact(source_path, artifact_name)

    def log_text(self, text: str, filename: str) -> str | None:
        """Store ``text`` as the artifact ``filename`` (kind ``text``), e.g. a CSV or notes."""
        if not self._check_open():
            return None  # a forked child: never sends
        if not isinstance(text, str):
            raise InvalidValueError(f"log_text needs a str, got {type(text).__name__}")
        clean = normalize_name(filename)
        data = text.encode("utf-8")
        return self._snapshot(
            lambda d, **fields: snapshot_bytes(data, d, **fields),
            clean,
            "text",
            guess_mime_type(clean, "text/plain"),
        )

    def log_figure(self, fig: Any, title: str | None = None) -> str | None:
        """Store a matplotlib figure as a PNG artifact (kind ``figure``) named after ``title``.

        Anything with matplotlib's ``savefig(file, format="png")`` works; matplotlib
        itself is not needed by trainwire.
        """
        if not self._check_open():
            return None  # a forked child: never sends
        savefig = getattr(fig, "savefig", None)
        if not callable(savefig):
            raise InvalidValueError(
                f"log_figure needs a matplotlib figure (with savefig), got {type(fig).__name__}"
            )
        if title is not None and not isinstance(title, str):
            raise InvalidValueError(f"a figure title must be a string, got {title!r}")
        stem = title or f"figure-{self._next_figure_number()}"
        clean = normalize_name(stem if stem.lower().endswith(".png") else f"{stem}.png")
        buffer = io.BytesIO()
        savefig(buffer, format="png")
        data = buffer.getvalue()
        return self._snapshot(
            lambda d, **fields: snapshot_bytes(data, d, **fields), clean, "figure", "image/png"
        )

    def _snapshot(self, make: Any, name: str, kind: str, mime_type: str) -> str | None:
        directory = self.run_dir / ARTIFACTS_DIRNAME
        try:
            pending = make(directory, run_id=self.id, name=name, kind=kind, mime_type=mime_type)
        except OSError as exc:
            logger.error(
                "trainwire: could not snapshot artifact %r into %s: %s", name, directory, exc
            )
            return None
        self._artifact_uploader().submit(pending)
        return name

    def _next_figure_number(self) -> int:
        with _uploader_lock:
            self._figures += 1
            return self._figures

    def _artifact_uploader(self) -> ArtifactUploader:
        with _uploader_lock:
            if self._artifacts is None:
                self._artifacts = ArtifactUploader(
                    self.run_dir / ARTIFACTS_DIRNAME, self._open_sink
                )
            return self._artifacts

    def _open_sink(self, stats: UploadStats) -> BlobSink:
        return live_sink(self.run_dir, self._announce_artifact, stats)

    def _announce_artifact(self, pending: PendingArtifact, sha256: str) -> bool:
        """Embedded default: the ``ml.artifact`` event through the run's sender, once stored."""
        from trainwire.collector.artifacts import artifact_uid

        uploader = self._artifact_uploader()
        uid = artifact_uid(pending.run_id, pending.name, sha256)
        record = EventRecord(
            pending.time_unix_nano, semconv.EVENT_ARTIFACT, pending.event_body(sha256), uid
        )
        with uploader.gate:  # never after finish() stopped waiting: the sender may be closed
            if uploader.stopping:
                return False
            self._sender.put(record)
        return self._sender.flush(_EVENT_FLUSH_TIMEOUT_S)

    def _flush_artifacts(self, timeout_s: float | None) -> bool:
        """Wait (at most ``timeout_s``) until the artifacts logged so far are delivered."""
        uploader = self._artifacts
        return uploader is None or uploader.wait(timeout_s)

    def _wait_for_artifacts(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for queued artifacts, then stop the uploader; True if all went.

        ``finish()`` calls this before it ends the run and closes the sender.
        """
        uploader = self._artifacts
        if uploader is None or uploader.close(timeout_s):
            return True
        left = len(pending_artifacts(self.run_dir))
        logger.warning(
            "trainwire: %d artifacts of run %s are not uploaded yet; they are kept in %s:"
            " ship them with `trainwire sync %s`",
            left,
            self.id,
            self.run_dir / ARTIFACTS_DIRNAME,
            self.run_dir.parent,
        )
        return False
