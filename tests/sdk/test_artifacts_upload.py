"""Artifacts to a real collector: snapshots, Stat before Upload, resume, and sync after an outage."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import grpc
from click.testing import CliRunner

import trainwire
from trainwire.cli import main
from trainwire.proto import artifact_pb2, artifact_pb2_grpc
from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess, free_port, wait_for

MIB = 1024 * 1024


def _stub(
    collector: CollectorProcess,
) -> tuple[grpc.Channel, artifact_pb2_grpc.ArtifactServiceStub]:
    channel = grpc.insecure_channel(collector.endpoint)
    return channel, artifact_pb2_grpc.ArtifactServiceStub(channel)  # type: ignore[no-untyped-call]


def _download(collector: CollectorProcess, sha256: str) -> bytes:
    channel, stub = _stub(collector)
    with channel:
        request = artifact_pb2.DownloadRequest(sha256=sha256)
        return b"".join(c.data for c in stub.Download(request, timeout=30))


def _stored_artifacts(collector: CollectorProcess, count: int) -> list[tuple[str, str, str, int]]:
    """The collector store's artifact rows, once ``count`` of them have arrived."""

    def rows() -> list[tuple[str, str, str, int]]:
        if not collector.db_path.exists():
            return []
        with sqlite3.connect(collector.db_path) as conn:
            return conn.execute(
                "SELECT run_id, name, sha256, size FROM artifacts ORDER BY run_id, name"
            ).fetchall()

    assert wait_for(lambda: len(rows()) >= count, timeout_s=20)
    return rows()


def _blob_count(collector: CollectorProcess) -> int:
    return len(list((collector.directory / "trainwire-data/artifacts/blobs").glob("*/*")))


def test_file_changed_or_deleted_after_the_call_still_uploads_its_original_bytes(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    """log_artifact snapshots at call time: rewriting the checkpoint in place and deleting it does not change what arrives."""
    original = os.urandom(2 * MIB + 5)
    checkpoint = tmp_path / "last.pt"
    checkpoint.write_bytes(original)
    run = trainwire.init(endpoint=collector.endpoint)
    run.log_artifact(checkpoint, kind="model")
    with open(checkpoint, "r+b") as f:  # checkpoint rotation rewrites the same inode
        f.write(b"rotated" * 1000)
    checkpoint.unlink()
    run.finish(timeout_s=30)
    sha = hashlib.sha256(original).hexdigest()
    assert _stored_artifacts(collector, 1) == [(run.id, "last.pt", sha, len(original))]
    assert _download(collector, sha) == original


def test_a_blob_the_collector_holds_is_never_sent_again(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    """The same file logged twice by one run and once by another is uploaded once; Stat hits announce the others."""
    data = os.urandom(3 * MIB)
    (tmp_path / "weights.bin").write_bytes(data)
    first = trainwire.init(endpoint=collector.endpoint)
    first.log_artifact(tmp_path / "weights.bin", name="a/weights.bin")
    first.log_artifact(tmp_path / "weights.bin", name="b/weights.bin")
    first.finish(timeout_s=30)
    second = trainwire.init(endpoint=collector.endpoint)
    second.log_artifact(tmp_path / "weights.bin")
    second.finish(timeout_s=30)
    sha = hashlib.sha256(data).hexdigest()
    assert sorted(_stored_artifacts(collector, 3)) == sorted(
        [
            (first.id, "a/weights.bin", sha, len(data)),
            (first.id, "b/weights.bin", sha, len(data)),
            (second.id, "weights.bin", sha, len(data)),
        ]
    )
    assert _blob_count(collector) == 1
    first_stats, second_stats = first._artifacts.stats, second._artifacts.stats  # type: ignore[union-attr]
    assert (first_stats.delivered, first_stats.bytes_sent, first_stats.already_stored) == (
        2,
        len(data),
        1,
    )
    assert (second_stats.delivered, second_stats.bytes_sent, second_stats.already_stored) == (
        1,
        0,
        1,
    )


def test_an_interrupted_upload_resumes_at_the_collectors_offset(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    """When the collector already holds 2 MiB of a blob, log_artifact sends only the rest and the blob is whole."""
    data = os.urandom(5 * MIB + 123)
    sha = hashlib.sha256(data).hexdigest()
    channel, stub = _stub(collector)
    with channel:
        header = artifact_pb2.UploadHeader(sha256=sha, total_size=len(data), offset=0)
        partial = [
            artifact_pb2.UploadChunk(header=header),
            artifact_pb2.UploadChunk(data=data[:MIB]),
            artifact_pb2.UploadChunk(data=data[MIB : 2 * MIB]),
        ]
        response = stub.Upload(iter(partial), timeout=30)
        assert (response.committed, response.committed_bytes) == (False, 2 * MIB)
        stat = stub.Stat(artifact_pb2.StatRequest(sha256=sha), timeout=10)
        assert (stat.exists, stat.committed_bytes) == (False, 2 * MIB)
    (tmp_path / "model.safetensors").write_bytes(data)
    run = trainwire.init(endpoint=collector.endpoint)
    run.log_artifact(tmp_path / "model.safetensors", kind="model")
    run.finish(timeout_s=30)
    stats = run._artifacts.stats  # type: ignore[union-attr]
    assert (stats.resumed_from, stats.bytes_sent) == (2 * MIB, len(data) - 2 * MIB)
    assert _stored_artifacts(collector, 1) == [(run.id, "model.safetensors", sha, len(data))]
    assert _download(collector, sha) == data


def test_finish_with_the_collector_unreachable_keeps_the_artifact_for_sync(
    tmp_path: Path,
) -> None:
    """finish() returns within its timeout with the collector down; `trainwire sync` uploads the artifact later."""
    port = free_port()
    data = os.urandom(MIB + 1)
    (tmp_path / "best.pt").write_bytes(data)
    run = trainwire.init(endpoint=f"127.0.0.1:{port}")
    run.log_artifact(tmp_path / "best.pt", kind="model")
    started = time.monotonic()
    run.finish(timeout_s=1.5)
    assert time.monotonic() - started < 1.5 + 1.0
    assert [p.suffix for p in sorted((run.run_dir / "artifacts").iterdir())] == [".blob", ".json"]
    config = DEFAULT_TEST_CONFIG.replace("127.0.0.1:0", f"127.0.0.1:{port}")
    with CollectorProcess(tmp_path / "late", config=config) as collector:
        result = CliRunner().invoke(main, ["sync", str(run.run_dir)])
        assert result.exit_code == 0, result.output
        assert "1 artifacts uploaded" in result.output
        sha = hashlib.sha256(data).hexdigest()
        assert _stored_artifacts(collector, 1) == [(run.id, "best.pt", sha, len(data))]
        assert _download(collector, sha) == data
    assert not (run.run_dir / "artifacts").exists()
