"""Tests of the committed generated code of trainwire's own protos."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType

import grpc
import pytest

from trainwire.proto import artifact_pb2, artifact_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[2]
GEN_PROTO = REPO_ROOT / "scripts" / "gen_proto.py"
CHUNK_SIZE = 1024


def _load_gen_proto() -> ModuleType:
    """Load scripts/gen_proto.py by path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("_trainwire_gen_proto", GEN_PROTO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_generated_code_is_up_to_date(tmp_path: Path) -> None:
    """The generated files in proto/ equal what gen_proto.py generates now."""
    gen_proto = _load_gen_proto()
    generated: dict[str, bytes] = gen_proto.generate(tmp_path)
    assert {"artifact_pb2.py", "artifact_pb2.pyi", "artifact_pb2_grpc.py"} <= set(generated)
    stale = gen_proto.stale_files(generated, REPO_ROOT / "proto")
    assert not stale, (
        f"generated protobuf code is stale: {stale}; run `python scripts/gen_proto.py`"
    )


class _InMemoryArtifactService(artifact_pb2_grpc.ArtifactServiceServicer):
    """Minimal ArtifactService that keeps blobs in memory (test only)."""

    def __init__(self) -> None:
        self.partial: dict[str, bytearray] = {}
        self.blobs: dict[str, bytes] = {}
        self.headers: list[artifact_pb2.UploadHeader] = []

    def Stat(
        self, request: artifact_pb2.StatRequest, context: grpc.ServicerContext
    ) -> artifact_pb2.StatResponse:
        blob = self.blobs.get(request.sha256)
        if blob is not None:
            return artifact_pb2.StatResponse(exists=True, committed_bytes=len(blob), size=len(blob))
        committed = len(self.partial.get(request.sha256, b""))
        return artifact_pb2.StatResponse(exists=False, committed_bytes=committed)

    def Upload(
        self,
        request_iterator: Iterator[artifact_pb2.UploadChunk],
        context: grpc.ServicerContext,
    ) -> artifact_pb2.UploadResponse:
        first = next(request_iterator)
        if first.WhichOneof("payload") != "header":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "header must come first")
        header = first.header
        self.headers.append(header)
        buffer = self.partial.setdefault(header.sha256, bytearray())
        if header.offset != len(buffer):
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "wrong offset")
        for chunk in request_iterator:
            if chunk.WhichOneof("payload") != "data":
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expected data")
            buffer.extend(chunk.data)
        committed = (
            len(buffer) == header.total_size and hashlib.sha256(buffer).hexdigest() == header.sha256
        )
        if committed:
            self.blobs[header.sha256] = bytes(self.partial.pop(header.sha256))
        return artifact_pb2.UploadResponse(
            sha256=header.sha256, committed_bytes=len(buffer), committed=committed
        )

    def Download(
        self, request: artifact_pb2.DownloadRequest, context: grpc.ServicerContext
    ) -> Iterator[artifact_pb2.DownloadChunk]:
        blob = self.blobs.get(request.sha256)
        if blob is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such blob")
        for offset in range(request.offset, len(blob), CHUNK_SIZE):
            yield artifact_pb2.DownloadChunk(data=blob[offset : offset + CHUNK_SIZE], offset=offset)


@pytest.fixture
def service() -> _InMemoryArtifactService:
    """The in-memory servicer behind the test server."""
    return _InMemoryArtifactService()


@pytest.fixture
def stub(
    service: _InMemoryArtifactService,
) -> Iterator[artifact_pb2_grpc.ArtifactServiceStub]:
    """A client stub connected to a real gRPC server on 127.0.0.1."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    # *_pb2_grpc.py has no type stubs (protoc's --pyi_out covers *_pb2 only).
    artifact_pb2_grpc.add_ArtifactServiceServicer_to_server(service, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    assert port != 0
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield artifact_pb2_grpc.ArtifactServiceStub(channel)  # type: ignore[no-untyped-call]
    finally:
        channel.close()
        server.stop(grace=None)


def _upload_chunks(
    header: artifact_pb2.UploadHeader, data: bytes
) -> Iterator[artifact_pb2.UploadChunk]:
    """Yield the header message, then ``data`` in CHUNK_SIZE pieces."""
    yield artifact_pb2.UploadChunk(header=header)
    for start in range(0, len(data), CHUNK_SIZE):
        yield artifact_pb2.UploadChunk(data=data[start : start + CHUNK_SIZE])


def test_upload_stat_and_download_round_trip(
    stub: artifact_pb2_grpc.ArtifactServiceStub, service: _InMemoryArtifactService
) -> None:
    """A chunked, resumed Upload is committed and Download streams it back."""
    blob = bytes(range(256)) * 20  # 5120 bytes: several chunks
    sha = hashlib.sha256(blob).hexdigest()
    split = 2 * CHUNK_SIZE + 100

    assert stub.Stat(artifact_pb2.StatRequest(sha256=sha)) == (
        artifact_pb2.StatResponse(exists=False, committed_bytes=0)
    )

    first = stub.Upload(
        _upload_chunks(
            artifact_pb2.UploadHeader(sha256=sha, total_size=len(blob), offset=0),
            blob[:split],
        )
    )
    assert (first.sha256, first.committed_bytes, first.committed) == (sha, split, False)
    resume = stub.Stat(artifact_pb2.StatRequest(sha256=sha))
    assert (resume.exists, resume.committed_bytes) == (False, split)

    metadata = artifact_pb2.ArtifactMetadata(
        run_id="run-1",
        name="weights.bin",
        kind="model",
        mime_type="application/octet-stream",
        attributes={"epoch": "3"},
    )
    second = stub.Upload(
        _upload_chunks(
            artifact_pb2.UploadHeader(
                sha256=sha,
                total_size=len(blob),
                offset=resume.committed_bytes,
                metadata=metadata,
            ),
            blob[resume.committed_bytes :],
        )
    )
    assert (second.committed_bytes, second.committed) == (len(blob), True)
    assert stub.Stat(artifact_pb2.StatRequest(sha256=sha)) == (
        artifact_pb2.StatResponse(exists=True, committed_bytes=len(blob), size=len(blob))
    )
    assert not service.headers[0].HasField("metadata")
    assert service.headers[1].metadata == metadata

    chunks = list(stub.Download(artifact_pb2.DownloadRequest(sha256=sha)))
    assert len(chunks) > 1
    assert [c.offset for c in chunks] == list(range(0, len(blob), CHUNK_SIZE))
    assert b"".join(c.data for c in chunks) == blob

    tail = list(stub.Download(artifact_pb2.DownloadRequest(sha256=sha, offset=split)))
    assert tail[0].offset == split
    assert b"".join(c.data for c in tail) == blob[split:]


def test_download_of_unknown_blob_fails_with_not_found(
    stub: artifact_pb2_grpc.ArtifactServiceStub,
) -> None:
    """A server-side abort in a streaming handler reaches the client as its status."""
    with pytest.raises(grpc.RpcError) as excinfo:
        list(stub.Download(artifact_pb2.DownloadRequest(sha256="0" * 64)))
    assert excinfo.value.code() == grpc.StatusCode.NOT_FOUND
