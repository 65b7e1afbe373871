"""gc against a writer: an old blob logged again while gc runs is not deleted under it.

The artifact store keeps one copy of each content, so a run logging bytes that an old,
unreferenced blob already holds only records a row naming it. gc moves what it would
delete aside, reads the store (and queues) again, and puts back what got named.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import trainwire
from trainwire.exporters.sqlite.blobs import blob_path
from trainwire.exporters.sqlite.gc import collect_garbage
from trainwire.exporters.sqlite.schema import connect

DATA = b"old weights, logged again"
SHA = hashlib.sha256(DATA).hexdigest()


def _old_orphan(blobs: Path) -> Path:
    path = blob_path(blobs, SHA)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(DATA)
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))
    return path


def _record_artifact(db: Path, run_id: str) -> None:
    """What the store's writer does for an ml.artifact event whose blob it found present."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO artifacts (run_id, name, kind, sha256, size, mime_type, time)"
            " VALUES (?, 'again.bin', 'file', ?, ?, 'application/octet-stream', ?)",
            (run_id, SHA, len(DATA), time.time_ns()),
        )


def test_blob_named_by_a_run_during_gc_is_put_back(store: Any) -> None:
    """A row naming the old blob committed mid-collection: the blob stays, readable."""
    path = _old_orphan(store.blobs)
    conn = connect(store.db)
    try:
        result = collect_garbage(
            conn,
            store.blobs,
            requeued=lambda: _record_artifact(store.db, store.ids["gamma"]) or set(),
        )
    finally:
        conn.close()
    assert SHA not in result.removed and path.read_bytes() == DATA
    assert not list(path.parent.glob(".*.gc"))
    with trainwire.Client(store.db) as client:
        assert client.get_artifact("gamma", "again.bin") == DATA


def test_blob_queued_during_gc_is_put_back_and_the_rest_deleted(store: Any) -> None:
    """A digest the queues name on the second read is kept; an orphan nobody names goes."""
    path = _old_orphan(store.blobs)
    other = blob_path(store.blobs, hashlib.sha256(b"nobody").hexdigest())
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_bytes(b"nobody")
    os.utime(other, (time.time() - 3600,) * 2)
    conn = connect(store.db)
    try:
        result = collect_garbage(conn, store.blobs, requeued=lambda: {SHA})
    finally:
        conn.close()
    assert path.read_bytes() == DATA and SHA not in result.removed
    assert not other.exists() and list(result.removed) == [hashlib.sha256(b"nobody").hexdigest()]


def test_a_failed_second_read_puts_every_blob_back(store: Any) -> None:
    """If the queues cannot be read again, nothing is deleted and the error surfaces."""
    path = _old_orphan(store.blobs)

    def unreadable() -> set[str]:
        raise sqlite3.DatabaseError("queue file is damaged")

    conn = connect(store.db)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="damaged"):
            collect_garbage(conn, store.blobs, requeued=unreadable)
    finally:
        conn.close()
    assert path.read_bytes() == DATA and not list(path.parent.glob(".*.gc"))


def test_a_blob_left_aside_by_a_killed_gc_is_restored(store: Any) -> None:
    """A blob a killed collection left moved aside is back (and readable) after the next gc."""
    path = _old_orphan(store.blobs)
    os.replace(path, path.with_name(f".{path.name}.gc"))
    _record_artifact(store.db, store.ids["gamma"])
    result = store.cli("gc", "--min-age", "0")
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == DATA and not list(path.parent.glob(".*.gc"))
