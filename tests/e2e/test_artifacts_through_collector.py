"""Artifacts through a real collector: uploaded on the OTLP port, recorded in the store."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import grpc

from trainwire.exporters.sqlite import StoreReader
from trainwire.proto import artifact_pb2, artifact_pb2_grpc
from trainwire.testing import CollectorProcess


def test_blob_uploaded_on_the_grpc_port_is_stored_and_announced(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    """An upload with run metadata over the collector's OTLP port commits the blob and records the artifact for the run."""
    data = b"checkpoint-bytes" * 10_000
    sha = hashlib.sha256(data).hexdigest()
    channel = grpc.insecure_channel(collector.endpoint)
    stub = artifact_pb2_grpc.ArtifactServiceStub(channel)  # type: ignore[no-untyped-call]
    header = artifact_pb2.UploadHeader(
        sha256=sha,
        total_size=len(data),
        offset=0,
        metadata=artifact_pb2.ArtifactMetadata(
            run_id="run-art", name="model.pt", kind="model", mime_type="application/octet-stream"
        ),
    )
    chunks = [artifact_pb2.UploadChunk(header=header)] + [
        artifact_pb2.UploadChunk(data=data[i : i + 65536]) for i in range(0, len(data), 65536)
    ]
    response = stub.Upload(iter(chunks), timeout=30)
    assert response.committed and response.committed_bytes == len(data)
    assert stub.Stat(artifact_pb2.StatRequest(sha256=sha), timeout=10).exists
    downloaded = b"".join(
        c.data for c in stub.Download(artifact_pb2.DownloadRequest(sha256=sha), timeout=30)
    )
    assert downloaded == data
    channel.close()
    collector.stop()
    with StoreReader(collector.db_path) as store:
        store.run("run-art")

    with sqlite3.connect(collector.db_path) as conn:
        rows = conn.execute("SELECT run_id, name, kind, sha256, size FROM artifacts").fetchall()
    assert rows == [("run-art", "model.pt", "model", sha, len(data))]
