"""A blob found present by a sender is made young, so gc's age limit spares it until the
sender's ml.artifact event is recorded."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from trainwire.collector.artifacts.store import BlobStore
from trainwire.exporters.sqlite.gc import collect_garbage
from trainwire.exporters.sqlite.schema import connect


def _old_blob(store: BlobStore, data: bytes) -> tuple[str, Path]:
    sha256 = hashlib.sha256(data).hexdigest()
    path = store.blob_path(sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    long_ago = time.time() - 7 * 86400
    os.utime(path, (long_ago, long_ago))
    return sha256, path


def test_stat_of_a_present_blob_refreshes_its_age_and_gc_spares_it(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "artifacts", max_blob_bytes=1 << 20)
    store.open()
    found, found_path = _old_blob(store, b"weights logged again by a new run")
    _, forgotten_path = _old_blob(store, b"weights nobody logs any more")

    stat = store.stat(found)  # what a sender asks before uploading
    assert stat.exists

    collect_garbage(connect(tmp_path / "runs.db"), store.directory, min_age_s=300)
    assert found_path.exists()  # young again: its event may be on its way
    assert not forgotten_path.exists()  # unreferenced and old: collected
