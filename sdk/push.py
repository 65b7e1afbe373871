"""``trainwire sync --to``: push the runs of an embedded store to a shared collector.

Waddle's habit: track locally, then publish. Everything is sent with the identities
it was stored under, so pushing twice (or after a partial push) stores nothing twice.
Artifact blobs in the local artifact store go first, so their events find them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trainwire.errors import TrainwireError
from trainwire.transports.embedded import artifact_directory

if TYPE_CHECKING:
    from trainwire.transports.grpc import GrpcTransport

__all__ = ["PushResult", "push_store"]


@dataclass(frozen=True)
class PushResult:
    """What pushing a store sent."""

    runs: int
    requests: int
    blobs: int


def push_store(db_path: Path, endpoint: str, *, timeout_s: float = 30.0) -> PushResult:
    """Send every run of the store at ``db_path`` to the collector at ``endpoint``."""
    from trainwire.exporters.sqlite.replay import replay_run, run_ids
    from trainwire.transports.grpc import GrpcTransport

    if not db_path.exists():
        raise TrainwireError(f"no trainwire store at {db_path}; pass --db PATH")
    transport = GrpcTransport(endpoint)
    if transport.probe() == "unreachable":
        transport.close()
        raise TrainwireError(f"no collector answers at {endpoint}")
    runs = requests = 0
    try:
        blobs = _push_blobs(db_path, transport, timeout_s)
        for run_id in run_ids(db_path):
            for signal, payload in replay_run(db_path, run_id):
                transport.export_raw(signal, payload, timeout_s=timeout_s)
                requests += 1
            runs += 1
    finally:
        transport.close()
    return PushResult(runs, requests, blobs)


def _push_blobs(db_path: Path, transport: GrpcTransport, timeout_s: float) -> int:
    directory = artifact_directory(db_path) / "blobs"
    if not directory.exists():
        return 0
    with sqlite3.connect(db_path) as conn:
        blobs = conn.execute("SELECT DISTINCT sha256, size FROM artifacts").fetchall()
    sent = 0
    for sha256, size in blobs:
        path = directory / sha256[:2] / sha256[2:]
        if path.exists():
            transport.upload_blob(
                path, sha256=sha256, size=size, metadata=None, timeout_s=timeout_s
            )
            sent += 1
    return sent
