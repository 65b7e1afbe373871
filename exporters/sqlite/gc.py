"""Garbage collection of artifact blobs: delete those no run of the store references.

A blob is spared while an ``ml.artifact`` event naming it still waits in a sqlite
exporter's persistent queue (the collector committed the blob, the store has not
recorded the event yet), and while it is younger than ``min_age_s`` (committed a
moment ago; its event may still be on its way to the queue). Blobs to delete are moved
aside and put back if a run or a queued event named them meanwhile (an old blob logged
again is only referenced, never rewritten). A writer that found the blob present and
whose event reaches neither queue nor store until gc has re-read both is covered by
``min_age_s``: the artifact store refreshes a blob's mtime whenever a sender finds it
present (``BlobStore.stat``).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from trainwire.records import artifact_digests

__all__ = [
    "GcResult",
    "collect_garbage",
    "queued_blobs",
    "referenced_blobs",
    "stored_blobs",
]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_LOGS = "logs"  # Signal.LOGS.value: the queue's signal column


@dataclass
class GcResult:
    """What a garbage collection did (or, dry, would do)."""

    removed: dict[str, int] = field(default_factory=dict)
    """Unreferenced blobs deleted: sha256 -> size in bytes."""
    spared_queued: set[str] = field(default_factory=set)
    """Unreferenced blobs kept because their ``ml.artifact`` event is still queued."""
    spared_recent: set[str] = field(default_factory=set)
    """Unreferenced blobs kept because they are younger than ``min_age_s``."""
    kept: int = 0
    """Blobs some run references."""

    @property
    def freed_bytes(self) -> int:
        """Bytes the removed blobs took."""
        return sum(self.removed.values())


def referenced_blobs(conn: sqlite3.Connection) -> set[str]:
    """The digests of every artifact of every run in the store."""
    return {row[0] for row in conn.execute("SELECT DISTINCT sha256 FROM artifacts")}


def stored_blobs(directory: Path) -> dict[str, Path]:
    """The committed blobs under an artifact store ``directory``: sha256 -> file."""
    found: dict[str, Path] = {}
    root = directory / "blobs"
    if not root.is_dir():
        return found
    for prefix in root.iterdir():
        if not prefix.is_dir() or len(prefix.name) != 2:
            continue
        for blob in prefix.iterdir():
            sha256 = prefix.name + blob.name
            if blob.is_file() and _SHA256.fullmatch(sha256):
                found[sha256] = blob
    return found


def queued_blobs(queue_files: Iterable[Path]) -> set[str]:
    """Digests named by ``ml.artifact`` events waiting in persistent queue files.

    Raises:
        FileNotFoundError: a queue file does not exist.
        sqlite3.DatabaseError: a file is not a persistent queue.
    """
    digests: set[str] = set()
    for path in queue_files:
        if not path.is_file():
            raise FileNotFoundError(f"no queue file at {path}")
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT payload FROM items WHERE signal = ?", (_LOGS,)).fetchall()
        except sqlite3.OperationalError as exc:
            raise sqlite3.DatabaseError(f"{path} is not an exporter queue file ({exc})") from None
        finally:
            conn.close()
        for (payload,) in rows:
            digests.update(_artifact_digests(bytes(payload)))
    return digests


def _artifact_digests(payload: bytes) -> set[str]:
    try:
        request = ExportLogsServiceRequest.FromString(payload)
    except Exception:  # noqa: BLE001 - a queued item we cannot read names no blob we know of
        return set()
    return set(artifact_digests(request))


def collect_garbage(
    conn: sqlite3.Connection,
    directory: Path,
    *,
    queued: set[str] | None = None,
    only: Iterable[str] | None = None,
    min_age_s: float = 0.0,
    dry_run: bool = False,
    requeued: Callable[[], set[str]] | None = None,
) -> GcResult:
    """Delete the blobs under ``directory`` that no run in the store references.

    The blobs to delete are first moved aside; then the store (and, through
    ``requeued``, the queues) are read again, and a blob some run or queued event came
    to name meanwhile (an old blob logged again: the artifact store keeps one copy) is
    put back. Only the rest are deleted.

    Args:
        queued: digests whose ``ml.artifact`` event is still queued (spared).
        only: consider just these digests (e.g. those of a run just removed).
        min_age_s: spare blobs modified less than this many seconds ago.
        dry_run: report what would go, delete nothing.
        requeued: read the queued digests again (called once, after the move aside).
    """
    result = GcResult()
    if not dry_run:
        _restore_leftovers(directory)
    referenced = referenced_blobs(conn)
    blobs = stored_blobs(directory)
    if only is not None:
        wanted = set(only)
        blobs = {sha: path for sha, path in blobs.items() if sha in wanted}
    now = time.time()
    doomed: dict[str, tuple[Path, Path, int]] = {}
    for sha256, path in sorted(blobs.items()):
        if sha256 in referenced:
            result.kept += 1
            continue
        if queued and sha256 in queued:
            result.spared_queued.add(sha256)
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if now - stat.st_mtime < min_age_s:
            result.spared_recent.add(sha256)
            continue
        if dry_run:
            result.removed[sha256] = stat.st_size
            continue
        aside = path.with_name(f".{path.name}.gc")  # not a blob name: readers never see it
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            continue
        doomed[sha256] = (path, aside, stat.st_size)
    if not doomed:
        return result
    try:
        # Queues first: an event that leaves a queue meanwhile is in the store by then.
        named = requeued() if requeued is not None else set()
        named |= referenced_blobs(conn)
    except BaseException:
        for path, aside, _ in doomed.values():
            _put_back(aside, path)
        raise
    for sha256, (path, aside, size) in doomed.items():
        if sha256 in named:
            _put_back(aside, path)
            result.kept += 1
            continue
        aside.unlink(missing_ok=True)
        _remove_if_empty(path.parent)
        result.removed[sha256] = size
    return result


def _restore_leftovers(directory: Path) -> None:
    """Put back blobs a collection stopped midway (killed) left moved aside."""
    for aside in (directory / "blobs").glob("??/.*.gc"):
        _put_back(aside, aside.with_name(aside.name[1:-3]))


def _put_back(aside: Path, path: Path) -> None:
    """Restore a blob moved aside, unless a writer stored the same bytes there meanwhile."""
    if path.exists():
        aside.unlink(missing_ok=True)
    else:
        os.replace(aside, path)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
