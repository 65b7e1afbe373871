"""Artifacts on the run's disk: names, snapshots, and the pending-upload records.

``run.log_artifact(path)`` snapshots the file into ``<run dir>/artifacts/`` at once,
so checkpoint rotation cannot change what is uploaded, and records the upload as
pending; the run's uploader thread (:mod:`trainwire._artifact_upload`) hashes and
ships it, and deletes both files only once the destination has committed the blob
and recorded the ``ml.artifact`` event. What is left (``finish()`` timed out, the
process died) is finished by ``trainwire sync`` through :func:`sync_artifacts`.

Per pending artifact, ``<key>.blob`` is the snapshot and ``<key>.json`` describes it
(written after the snapshot is complete); keys sort in call order.

Names are relative POSIX paths inside the run's namespace: ``./a//b`` reads ``a/b``;
absolute paths, ``..``, backslashes, NUL and other control characters are refused
with :class:`~trainwire.errors.InvalidValueError` (DESIGN.md: "``../../x`` refused or
normalised"; refusing says what is wrong instead of guessing).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import shutil
import sys
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainwire import semconv
from trainwire.errors import InvalidValueError

if TYPE_CHECKING:
    from trainwire.transports.base import Transport

__all__ = [
    "ARTIFACTS_DIRNAME",
    "PendingArtifact",
    "artifact_kind",
    "guess_mime_type",
    "has_pending_artifacts",
    "normalize_name",
    "pending_artifacts",
    "snapshot_bytes",
    "snapshot_file",
    "sync_artifacts",
]

logger = logging.getLogger("trainwire")

ARTIFACTS_DIRNAME = "artifacts"
_MAX_NAME = 1024  # the collector's limit on metadata text
_FICLONE = 0x40049409  # Linux ioctl: a copy-on-write clone (btrfs, XFS, bcachefs)
# Python's built-in table only: the host's /etc/mime.types calls a .pt checkpoint
# "application/vnd.snesdev-page-table", and the answer must not depend on the machine.
_MIME_TYPES = mimetypes.MimeTypes()


@dataclass(frozen=True)
class PendingArtifact:
    """One artifact waiting to be uploaded: what its ``<key>.json`` holds."""

    key: str
    run_id: str
    name: str
    kind: str
    mime_type: str
    size: int
    time_unix_nano: int
    """When the call was made: the time of the ``ml.artifact`` event the SDK makes itself."""
    sha256: str | None = None
    """Filled in by the uploader thread once it has hashed the snapshot."""

    def blob_path(self, directory: Path) -> Path:
        """The snapshot of this artifact in ``directory``."""
        return directory / f"{self.key}.blob"

    def record_path(self, directory: Path) -> Path:
        """The JSON record of this artifact in ``directory``."""
        return directory / f"{self.key}.json"

    def metadata(self) -> dict[str, str]:
        """The fields of the upload's ``ArtifactMetadata``."""
        return {
            "run_id": self.run_id,
            "name": self.name,
            "kind": self.kind,
            "mime_type": self.mime_type,
        }

    def event_body(self, sha256: str) -> dict[str, Any]:
        """The body of this artifact's ``ml.artifact`` event (as the collector writes it)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "sha256": sha256,
            "size": self.size,
            "mime_type": self.mime_type,
        }


def normalize_name(name: Any) -> str:
    """Return ``name`` as a clean relative POSIX path, or raise InvalidValueError saying why."""
    if not isinstance(name, str) or not name:
        raise InvalidValueError(f"an artifact name must be a non-empty string, got {name!r}")
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        raise InvalidValueError(f"artifact name {name!r} contains NUL or a control character")
    if "\\" in name:
        raise InvalidValueError(
            f"artifact name {name!r} contains a backslash; separate folders with '/'"
        )
    if name.startswith("/"):
        raise InvalidValueError(
            f"artifact name {name!r} is absolute; use a relative name such as"
            f" {name.lstrip('/').split('/')[-1] or 'file'!r}"
        )
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidValueError(
            f"artifact name {name!r} leaves the run's namespace ('..' is not allowed);"
            f" use a relative name such as {parts[-1] if parts[-1] != '..' else 'file'!r}"
        )
    clean = "/".join(parts)
    if not clean:
        raise InvalidValueError(f"artifact name {name!r} names no file")
    if len(clean) > _MAX_NAME:
        raise InvalidValueError(f"artifact name is longer than {_MAX_NAME} characters")
    return clean


def artifact_kind(kind: Any) -> str:
    """Return ``kind`` if it is one of ``semconv.ARTIFACT_KINDS``; raise InvalidValueError."""
    if kind not in semconv.ARTIFACT_KINDS:
        kinds = ", ".join(semconv.ARTIFACT_KINDS)
        raise InvalidValueError(f"artifact kind must be one of {kinds}, got {kind!r}")
    return str(kind)


def guess_mime_type(name: str, default: str = "application/octet-stream") -> str:
    """The MIME type of ``name`` by its extension (Python's own table), else ``default``."""
    return _MIME_TYPES.guess_type(name)[0] or default


def snapshot_file(
    source: Path, directory: Path, *, run_id: str, name: str, kind: str, mime_type: str
) -> PendingArtifact:
    """Copy ``source`` into ``directory`` now and record it as pending; return the record.

    A copy, never a hard link: a checkpoint rewritten in place (``torch.save`` to the
    same path) would change a hard link's bytes too. On file systems that support
    it, the copy is a copy-on-write clone and costs no time whatever the size.
    """
    key = _new_key()
    blob = directory / f"{key}.blob"
    _clone_or_copy(source, _tmp(blob))
    return _commit(blob, run_id=run_id, name=name, kind=kind, mime_type=mime_type, key=key)


def snapshot_bytes(
    data: bytes, directory: Path, *, run_id: str, name: str, kind: str, mime_type: str
) -> PendingArtifact:
    """Write ``data`` into ``directory`` as a pending artifact; return its record."""
    key = _new_key()
    blob = directory / f"{key}.blob"
    directory.mkdir(parents=True, exist_ok=True)
    _tmp(blob).write_bytes(data)
    return _commit(blob, run_id=run_id, name=name, kind=kind, mime_type=mime_type, key=key)


def _new_key() -> str:
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _clone_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if sys.platform.startswith("linux"):
        import fcntl

        with open(source, "rb") as src, open(target, "wb") as dst:
            try:
                fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
                return
            except OSError:
                pass  # not a copy-on-write file system: copy the bytes
    shutil.copyfile(source, target)  # sendfile(2) on Linux: no round trip through Python


def _commit(blob: Path, *, key: str, **fields: Any) -> PendingArtifact:
    try:
        size = _tmp(blob).stat().st_size
        os.replace(_tmp(blob), blob)
        pending = PendingArtifact(key=key, size=size, time_unix_nano=time.time_ns(), **fields)
        write_record(blob.parent, pending)
    except BaseException:
        for path in (_tmp(blob), blob):
            path.unlink(missing_ok=True)
        raise
    return pending


def write_record(directory: Path, pending: PendingArtifact) -> None:
    """Write (or replace) the JSON record of ``pending`` atomically."""
    path = pending.record_path(directory)
    tmp = _tmp(path)
    tmp.write_text(json.dumps(asdict(pending)) + "\n")
    os.replace(tmp, path)


def with_sha256(directory: Path, pending: PendingArtifact, sha256: str) -> PendingArtifact:
    """Record the digest of a pending artifact; return the updated record."""
    updated = replace(pending, sha256=sha256)
    write_record(directory, updated)
    return updated


def remove_pending(directory: Path, pending: PendingArtifact) -> None:
    """Delete a delivered artifact's snapshot and record (and the folder once empty)."""
    pending.record_path(directory).unlink(missing_ok=True)
    pending.blob_path(directory).unlink(missing_ok=True)
    try:
        directory.rmdir()
    except OSError:
        pass  # other artifacts still pending


def pending_artifacts(run_dir: Path) -> list[PendingArtifact]:
    """The artifacts of a run directory not yet delivered, oldest first."""
    directory = run_dir / ARTIFACTS_DIRNAME
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            pending = PendingArtifact(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            logger.warning("trainwire: %s is not a pending-artifact record; skipped", path)
            continue
        if pending.blob_path(directory).exists():
            found.append(pending)
        else:
            logger.warning("trainwire: the snapshot of artifact %r is missing", pending.name)
    return found


def has_pending_artifacts(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds artifacts not yet delivered."""
    return any((run_dir / ARTIFACTS_DIRNAME).glob("*.json"))


def sync_artifacts(run_dir: Path, transport: Transport, *, attempts: int = 5) -> tuple[int, int]:
    """Deliver the pending artifacts of a finished run through ``transport``.

    The hook of ``trainwire sync``: a collector gets each blob by Stat and resumable
    Upload; the embedded store gets it in its artifact store and the ``ml.artifact``
    event in its database. Returns ``(delivered, left)``.
    """
    from trainwire._artifact_upload import deliver_all, sync_sink

    directory = run_dir / ARTIFACTS_DIRNAME
    pending = pending_artifacts(run_dir)
    try:
        if not pending:
            return 0, 0
        return deliver_all(directory, pending, sync_sink(transport), attempts)
    finally:
        _remove_orphans(directory)


def _remove_orphans(directory: Path) -> None:
    """Delete what a process killed mid-snapshot left (no record, or half written)."""
    if not directory.is_dir():
        return
    records = {p.stem for p in directory.glob("*.json")}
    for path in directory.iterdir():
        if path.name.endswith(".tmp") or (path.suffix == ".blob" and path.stem not in records):
            path.unlink(missing_ok=True)
    try:
        directory.rmdir()
    except OSError:
        pass  # artifacts still pending
