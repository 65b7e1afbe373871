"""ArtifactService over a real grpc.aio server: Stat, resumable Upload, Download, events."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from trainwire import semconv
from trainwire.anyvalue import attributes_to_dict, from_any_value
from trainwire.collector.artifacts import artifact_uid
from trainwire.collector.component import ComponentID
from trainwire.errors import RetryableExportError
from trainwire.exporters.sqlite import SqliteExporter, SqliteExporterConfig
from trainwire.proto import artifact_pb2

T = TypeVar("T")
MiB = 1024 * 1024
BLOB = os.urandom(MiB + 12345)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


def messages(
    data: bytes,
    *,
    digest: str | None = None,
    offset: int = 0,
    total_size: int | None = None,
    chunk: int = 256 * 1024,
    meta: artifact_pb2.ArtifactMetadata | None = None,
) -> list[artifact_pb2.UploadChunk]:
    """The messages of one Upload stream sending ``data[offset:]``."""
    header = artifact_pb2.UploadHeader(
        sha256=sha(data) if digest is None else digest,
        total_size=len(data) if total_size is None else total_size,
        offset=offset,
    )
    if meta is not None:
        header.metadata.CopyFrom(meta)
    chunks = [data[i : i + chunk] for i in range(offset, len(data), chunk)]
    return [artifact_pb2.UploadChunk(header=header)] + [
        artifact_pb2.UploadChunk(data=c) for c in chunks
    ]


def meta(name: str = "model.safetensors", run_id: str = "run-1") -> artifact_pb2.ArtifactMetadata:
    return artifact_pb2.ArtifactMetadata(
        run_id=run_id, name=name, kind="model", mime_type="application/x-safetensors"
    )


async def stream(items: list[Any], hold: asyncio.Event | None = None) -> Any:
    """Yield ``items``; then, with ``hold``, keep the stream open until it is set."""
    for item in items:
        yield item
    if hold is not None:
        await hold.wait()


async def download(stub: Any, digest: str, offset: int = 0) -> tuple[bytes, list[int]]:
    data, offsets = b"", []
    async for chunk in stub.Download(artifact_pb2.DownloadRequest(sha256=digest, offset=offset)):
        offsets.append(chunk.offset)
        data += chunk.data
    return data, offsets


async def code_of(awaitable: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    return info.value


async def refused(stub: Any, items: list[Any]) -> grpc.aio.AioRpcError:
    """Send ``items`` of an Upload stream the server is expected to refuse, then wait for its answer.

    The stream stays open after the last item: a grpc.aio client still writing when the server
    ends the call may report INTERNAL instead of the server's status
    (https://github.com/grpc/grpc/issues/36066); the sync client and other languages do not.
    """
    return await code_of(stub.Upload(stream(items, hold=asyncio.Event())))


async def wait_for_file_size(path: Path, size: int) -> None:
    while not path.exists() or path.stat().st_size < size:
        await asyncio.sleep(0.01)


def test_chunked_upload_commits_blob_by_digest_and_emits_one_event(
    tmp_path: Path, serve: Any, sink: Any
) -> None:
    """A blob uploaded in chunks is committed at blobs/ab/cdef… and its ml.artifact event reaches the sink once."""
    digest = sha(BLOB)

    async def scenario() -> None:
        async with serve(tmp_path, sink=sink) as s:
            response = await s.stub.Upload(stream(messages(BLOB, meta=meta())))
            assert (response.sha256, response.committed, response.committed_bytes) == (
                digest,
                True,
                len(BLOB),
            )
            stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=digest))
            assert (stat.exists, stat.committed_bytes, stat.size) == (True, len(BLOB), len(BLOB))

    run(scenario())
    assert (tmp_path / "blobs" / digest[:2] / digest[2:]).read_bytes() == BLOB
    assert list((tmp_path / "partial").iterdir()) == []
    [(resource, record)] = sink.records()
    assert resource == {semconv.ML_RUN_ID: "run-1"}
    assert record.event_name == semconv.EVENT_ARTIFACT
    attributes = attributes_to_dict(record.attributes)
    assert attributes[semconv.EVENT_NAME_ATTRIBUTE] == semconv.EVENT_ARTIFACT
    assert attributes[semconv.LOG_RECORD_UID] == artifact_uid("run-1", "model.safetensors", digest)
    assert from_any_value(record.body) == {
        "name": "model.safetensors",
        "kind": "model",
        "sha256": digest,
        "size": len(BLOB),
        "mime_type": "application/x-safetensors",
    }


def test_interrupted_upload_resumes_at_the_offset_stat_reports(
    tmp_path: Path, serve: Any, sink: Any
) -> None:
    """An upload cut off mid-stream keeps its received bytes; Stat reports them and the resumed upload commits."""
    digest = sha(BLOB)
    first = messages(BLOB, meta=meta())[:3]  # header + 2 chunks of 256 KiB

    async def scenario() -> None:
        async with serve(tmp_path, sink=sink) as s:
            call = s.stub.Upload(stream(first, hold=asyncio.Event()))
            await wait_for_file_size(tmp_path / "partial" / digest, 512 * 1024)
            call.cancel()
            for _ in range(200):
                stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=digest))
                if stat.committed_bytes:
                    break
                await asyncio.sleep(0.01)
            assert (stat.exists, stat.committed_bytes) == (False, 512 * 1024)
            assert sink.records() == []  # no event before the blob is committed
            offset = stat.committed_bytes
            response = await s.stub.Upload(stream(messages(BLOB, offset=offset, meta=meta())))
            assert response.committed

    run(scenario())
    assert (tmp_path / "blobs" / digest[:2] / digest[2:]).read_bytes() == BLOB
    assert len(sink.records()) == 1


def test_partial_upload_survives_a_restart_of_the_service(
    tmp_path: Path, serve: Any, sink: Any
) -> None:
    """Committed bytes of an unfinished upload are reported by a new service on the same directory, which completes it."""
    digest = sha(BLOB)
    half = 768 * 1024

    async def scenario() -> None:
        async with serve(tmp_path) as s:  # the stream ends early: the client sent only part
            response = await s.stub.Upload(
                stream(messages(BLOB[:half], digest=digest, total_size=len(BLOB)))
            )
            assert (response.committed, response.committed_bytes) == (False, half)
        async with serve(tmp_path, sink=sink) as s:  # "restarted collector"
            stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=digest))
            assert (stat.exists, stat.committed_bytes) == (False, half)
            response = await s.stub.Upload(stream(messages(BLOB, offset=half, meta=meta())))
            assert response.committed
            data, _ = await download(s.stub, digest)
            assert data == BLOB

    run(scenario())
    assert len(sink.records()) == 1


def test_bytes_written_after_the_last_checkpoint_are_not_trusted(
    tmp_path: Path, serve: Any
) -> None:
    """After a crash, a partial file longer than its recorded progress is cut back to the committed bytes."""
    digest = sha(BLOB)
    (tmp_path / "partial").mkdir(parents=True)
    (tmp_path / "partial" / digest).write_bytes(BLOB[:1000] + b"torn tail never fsynced")
    (tmp_path / "partial" / f"{digest}.json").write_text(
        f'{{"total_size": {len(BLOB)}, "committed_bytes": 1000}}'
    )

    async def scenario() -> None:
        async with serve(tmp_path) as s:
            stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=digest))
            assert stat.committed_bytes == 1000
            response = await s.stub.Upload(stream(messages(BLOB, offset=1000)))
            assert response.committed

    run(scenario())
    assert (tmp_path / "blobs" / digest[:2] / digest[2:]).read_bytes() == BLOB


@pytest.mark.parametrize("offset", [0, 4096, 900_000])
def test_offset_other_than_committed_bytes_is_failed_precondition_naming_the_right_one(
    tmp_path: Path, serve: Any, offset: int
) -> None:
    """An upload starting anywhere but the committed bytes is refused with FAILED_PRECONDITION and the offset to use."""
    digest = sha(BLOB)
    committed = 512 * 1024

    async def scenario() -> None:
        async with serve(tmp_path) as s:
            await s.stub.Upload(
                stream(messages(BLOB[:committed], digest=digest, total_size=len(BLOB)))
            )
            error = await refused(s.stub, messages(BLOB, offset=offset)[:1])
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert f"resume at offset {committed}" in (error.details() or "")
            assert ("trainwire-committed-bytes", str(committed)) in tuple(
                error.trailing_metadata() or ()
            )
            stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=digest))
            assert stat.committed_bytes == committed

    run(scenario())


def test_digest_mismatch_is_refused_and_nothing_is_committed(
    tmp_path: Path, serve: Any, sink: Any
) -> None:
    """Bytes that do not hash to the claimed digest get INVALID_ARGUMENT; no blob, no partial, no event remain."""
    claimed = sha(b"something else")

    async def scenario() -> None:
        async with serve(tmp_path, sink=sink) as s:
            error = await code_of(
                s.stub.Upload(stream(messages(BLOB, digest=claimed, meta=meta())))
            )
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "nothing was committed" in (error.details() or "")
            stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=claimed))
            assert (stat.exists, stat.committed_bytes) == (False, 0)

    run(scenario())
    assert list((tmp_path / "blobs").rglob("*")) == []
    assert list((tmp_path / "partial").iterdir()) == []
    assert sink.records() == []


def test_reupload_of_an_existing_blob_is_a_no_op_reported_by_stat(
    tmp_path: Path, serve: Any, sink: Any
) -> None:
    """Uploading a committed blob again writes nothing and emits no second event; another run's upload announces it for that run."""
    digest = sha(BLOB)
    path = tmp_path / "blobs" / digest[:2] / digest[2:]

    async def scenario() -> None:
        async with serve(tmp_path, sink=sink) as s:
            await s.stub.Upload(stream(messages(BLOB, meta=meta())))
            before = path.stat()
            stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=digest))
            assert (stat.exists, stat.size) == (True, len(BLOB))
            again = await s.stub.Upload(stream(messages(BLOB, meta=meta())))
            assert (again.committed, again.committed_bytes) == (True, len(BLOB))
            header_only = messages(BLOB, offset=len(BLOB), meta=meta(run_id="run-2"))
            other = await s.stub.Upload(stream(header_only))
            assert other.committed
            # The same file, never rewritten (a new blob would be renamed into place);
            # Stat only makes it young again for gc.
            after = path.stat()
            assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)
            assert path.read_bytes() == BLOB

    run(scenario())
    assert [resource[semconv.ML_RUN_ID] for resource, _ in sink.records()] == ["run-1", "run-2"]


def test_download_streams_from_an_offset(tmp_path: Path, serve: Any) -> None:
    """Download returns the blob's bytes from the requested offset, each chunk labelled with its offset."""
    digest = sha(BLOB)

    async def scenario() -> None:
        async with serve(tmp_path) as s:
            await s.stub.Upload(stream(messages(BLOB)))
            whole, offsets = await download(s.stub, digest)
            assert whole == BLOB and offsets == [0, MiB]
            tail, offsets = await download(s.stub, digest, offset=1000)
            assert tail == BLOB[1000:] and offsets[0] == 1000
            empty, _ = await download(s.stub, digest, offset=len(BLOB))
            assert empty == b""
            error = await code_of(download(s.stub, digest, offset=len(BLOB) + 1))
            assert error.code() == grpc.StatusCode.OUT_OF_RANGE
            error = await code_of(download(s.stub, sha(b"never uploaded")))
            assert error.code() == grpc.StatusCode.NOT_FOUND

    run(scenario())


def test_empty_blob_is_committed_from_a_header_alone(tmp_path: Path, serve: Any) -> None:
    """A zero-byte blob commits with its header only and downloads as nothing."""
    digest = sha(b"")

    async def scenario() -> None:
        async with serve(tmp_path) as s:
            response = await s.stub.Upload(stream(messages(b"")))
            assert (response.committed, response.committed_bytes) == (True, 0)
            assert (await download(s.stub, digest))[0] == b""

    run(scenario())


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        "A" * 64,
        "../../../../etc/passwd",
        "g" * 64,
        sha(b"x") + "0",
        sha(b"x")[:63] + "/",
    ],
)
def test_malformed_sha256_is_invalid_argument_everywhere(
    tmp_path: Path, serve: Any, bad: str
) -> None:
    """Stat, Upload and Download refuse a digest that is not 64 lowercase hex characters, writing nothing."""

    async def scenario() -> None:
        async with serve(tmp_path / "store") as s:
            for call in (
                s.stub.Stat(artifact_pb2.StatRequest(sha256=bad)),
                s.stub.Upload(stream(messages(b"data", digest=bad)[:1], hold=asyncio.Event())),
                download(s.stub, bad),
            ):
                error = await code_of(call)
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "64 lowercase hex" in (error.details() or "")

    run(scenario())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_artifact_name_is_metadata_only_and_never_a_path(
    tmp_path: Path, serve: Any, sink: Any
) -> None:
    """An artifact named ../../x is stored by digest inside the store; nothing lands outside it."""
    store = tmp_path / "deep" / "store"

    async def scenario() -> None:
        async with serve(store, sink=sink) as s:
            response = await s.stub.Upload(stream(messages(b"payload", meta=meta(name="../../x"))))
            assert response.committed

    run(scenario())
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and store not in p.parents]
    assert outside == []
    [(_, record)] = sink.records()
    assert from_any_value(record.body)["name"] == "../../x"


def test_oversized_blob_and_chunk_are_refused_before_storing(tmp_path: Path, serve: Any) -> None:
    """A blob over max_blob_size_mib is RESOURCE_EXHAUSTED and a chunk over 4 MiB INVALID_ARGUMENT; neither is kept."""
    big = b"\0" * (5 * MiB)

    async def scenario() -> None:
        async with serve(tmp_path, max_blob_size_mib=1) as s:
            error = await refused(s.stub, messages(big)[:1])
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "max_blob_size_mib" in (error.details() or "")
        async with serve(tmp_path, max_blob_size_mib=64, max_receive_mib=16) as s:
            error = await refused(s.stub, messages(big, chunk=len(big)))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "4194304-byte limit" in (error.details() or "")
            tail = messages(b"12345", total_size=3, digest=sha(b"123"))
            error = await refused(s.stub, tail)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "more than its total_size" in (error.details() or "")

    run(scenario())
    assert list((tmp_path / "blobs").rglob("*")) == []


@pytest.mark.parametrize(
    ("stream_messages", "expected"),
    [
        ([], "empty Upload stream"),
        ([artifact_pb2.UploadChunk(data=b"x")], "first Upload message must hold the header"),
        (messages(b"ab", chunk=1)[:2] + messages(b"ab")[:1], "only the first Upload message"),
    ],
    ids=["empty", "data-first", "second-header"],
)
def test_malformed_upload_stream_is_invalid_argument(
    tmp_path: Path, serve: Any, stream_messages: list[Any], expected: str
) -> None:
    """An Upload stream without a leading header, or with a second one, is INVALID_ARGUMENT."""

    async def scenario() -> None:
        async with serve(tmp_path) as s:
            if stream_messages:
                error = await refused(s.stub, stream_messages)
            else:  # nothing sent: the stream must close for the server to notice
                error = await code_of(s.stub.Upload(stream([])))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert expected in (error.details() or "")

    run(scenario())


def test_undecodable_message_is_invalid_argument_not_internal(tmp_path: Path, serve: Any) -> None:
    """Bytes that are not a StatRequest are the sender's INVALID_ARGUMENT, and the server keeps serving."""

    async def scenario() -> None:
        async with serve(tmp_path) as s:
            raw = s.channel.unary_unary("/trainwire.v1.ArtifactService/Stat")
            error = await code_of(raw(b"\xff\xff\xff\xff garbage"))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=sha(b"")))
            assert not stat.exists

    run(scenario())


def test_invalid_metadata_is_refused_before_any_byte_is_stored(tmp_path: Path, serve: Any) -> None:
    """Metadata with an unknown kind or without a name is INVALID_ARGUMENT and leaves no partial upload."""

    async def scenario() -> None:
        async with serve(tmp_path) as s:
            for bad in (
                artifact_pb2.ArtifactMetadata(run_id="r", name="n", kind="weights"),
                artifact_pb2.ArtifactMetadata(run_id="r", name=""),
            ):
                error = await refused(s.stub, messages(BLOB, meta=bad)[:1])
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT

    run(scenario())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_concurrent_upload_of_the_same_blob_is_aborted_then_finds_it_committed(
    tmp_path: Path, serve: Any, sink: Any
) -> None:
    """While one upload of a blob runs, a second gets ABORTED; retried afterwards it is a no-op, and the blob is intact."""
    digest = sha(BLOB)

    async def scenario() -> None:
        async with serve(tmp_path, sink=sink) as s:
            hold = asyncio.Event()
            all_messages = messages(BLOB, meta=meta())
            first = s.stub.Upload(stream(all_messages[:2], hold=hold))
            await wait_for_file_size(tmp_path / "partial" / digest, 256 * 1024)
            error = await refused(s.stub, messages(BLOB, meta=meta())[:1])
            assert error.code() == grpc.StatusCode.ABORTED
            first.cancel()
            stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=digest))
            for _ in range(200):
                if stat.committed_bytes:
                    break
                await asyncio.sleep(0.01)
                stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=digest))
            results = await asyncio.gather(
                s.stub.Upload(stream(messages(BLOB, offset=stat.committed_bytes, meta=meta()))),
                s.stub.Upload(stream(messages(BLOB, offset=stat.committed_bytes, meta=meta()))),
                return_exceptions=True,
            )
            codes = sorted(
                r.code().name if isinstance(r, grpc.aio.AioRpcError) else "OK" for r in results
            )
            assert codes in (["ABORTED", "OK"], ["OK", "OK"])
            assert (await download(s.stub, digest))[0] == BLOB

    run(scenario())
    assert len(sink.records()) == 1


def test_blob_whose_bytes_changed_fails_download_with_data_loss_and_is_set_aside(
    tmp_path: Path, serve: Any
) -> None:
    """Downloading a blob whose bytes no longer match its digest ends in DATA_LOSS; Stat then reports it missing."""
    digest = sha(BLOB)

    async def scenario() -> None:
        async with serve(tmp_path) as s:
            await s.stub.Upload(stream(messages(BLOB)))
            path = tmp_path / "blobs" / digest[:2] / digest[2:]
            path.chmod(0o644)
            with open(path, "r+b") as f:
                f.seek(len(BLOB) - 1)
                f.write(bytes([BLOB[-1] ^ 0xFF]))
            error = await code_of(download(s.stub, digest, offset=10))
            assert error.code() == grpc.StatusCode.DATA_LOSS
            assert "corrupt" in (error.details() or "")
            stat = await s.stub.Stat(artifact_pb2.StatRequest(sha256=digest))
            assert not stat.exists
            assert (await s.stub.Upload(stream(messages(BLOB)))).committed  # repaired by re-upload

    run(scenario())
    assert len(list((tmp_path / "corrupt").iterdir())) == 1


def test_event_the_pipeline_cannot_take_is_unavailable_and_emitted_on_retry(
    tmp_path: Path, serve: Any, sink: Any
) -> None:
    """When the logs consumer refuses the event, Upload answers UNAVAILABLE with RetryInfo; the retry emits it once."""
    sink.failures.append(RetryableExportError("queue full", retry_after_s=2.0))

    async def scenario() -> None:
        async with serve(tmp_path, sink=sink) as s:
            error = await code_of(s.stub.Upload(stream(messages(BLOB, meta=meta()))))
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            details = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
            info = error_details_pb2.RetryInfo()
            assert status_pb2.Status.FromString(details).details[0].Unpack(info)
            assert info.retry_delay.seconds == 2
            response = await s.stub.Upload(stream(messages(BLOB, meta=meta())))
            assert response.committed

    run(scenario())
    assert len(sink.records()) == 1


def test_artifact_event_is_recorded_by_the_sqlite_store(tmp_path: Path, serve: Any) -> None:
    """With the run store as logs consumer, a committed artifact appears once in its artifacts table."""
    store = SqliteExporter(
        SqliteExporterConfig(path=str(tmp_path / "runs.db")), id=ComponentID("sqlite")
    )
    digest = sha(BLOB)

    async def scenario() -> None:
        await store.start(None)  # type: ignore[arg-type]
        try:
            async with serve(tmp_path / "artifacts", sink=store) as s:
                await s.stub.Upload(stream(messages(BLOB, meta=meta())))
                await s.stub.Upload(stream(messages(BLOB, offset=len(BLOB), meta=meta())))
        finally:
            await store.shutdown()

    run(scenario())
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        rows = conn.execute(
            "SELECT run_id, name, kind, sha256, size, mime_type FROM artifacts"
        ).fetchall()
    assert rows == [
        ("run-1", "model.safetensors", "model", digest, len(BLOB), "application/x-safetensors")
    ]
