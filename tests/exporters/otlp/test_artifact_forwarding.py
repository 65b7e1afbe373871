"""The otlp exporter forwards artifact blobs to a trainwire gateway before their ml.artifact events."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from trainwire import semconv
from trainwire.collector.artifacts import (
    ArtifactInfo,
    ArtifactsConfig,
    ArtifactService,
    BlobStore,
    BlobUpload,
    artifact_event,
)
from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.exporterhelper import QueueConfig, RetryConfig
from trainwire.exporters.otlp import (
    ArtifactForwardConfig,
    OtlpExporter,
    OtlpExporterConfig,
    TlsConfig,
    factory,
)
from trainwire.proto import artifact_pb2, artifact_pb2_grpc

T = TypeVar("T")
BLOB = os.urandom(2 * 1024 * 1024 + 17)
DIGEST = hashlib.sha256(BLOB).hexdigest()
INFO = ArtifactInfo.create(run_id="run-1", name="ckpt/model.pt", kind="model")


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


def put(directory: Path, data: bytes, *, upto: int | None = None) -> None:
    """Write ``data`` (or its first ``upto`` bytes, uncommitted) into the store at ``directory``."""
    store = BlobStore(directory, max_blob_bytes=1 << 40)
    store.open()
    digest = hashlib.sha256(data).hexdigest()
    with BlobUpload(store, digest, total_size=len(data), offset=0) as upload:
        for i in range(0, upto if upto is not None else len(data), 1024 * 1024):
            upload.write(data[i : min(i + 1024 * 1024, upto or len(data))])
        upload.finish()


def exporter_config(endpoint: str, sidecar: Path) -> OtlpExporterConfig:
    return OtlpExporterConfig(
        endpoint=endpoint,
        tls=TlsConfig(insecure=True),
        sending_queue=QueueConfig(storage="storage", drain_timeout_s=5),
        retry_on_failure=RetryConfig(initial_interval_s=0.05, max_interval_s=0.2),
        artifacts=ArtifactForwardConfig(directory=str(sidecar)),
    )


class GatewaySink:
    """The gateway's own ml.artifact events (none expected: forwarded blobs carry no metadata)."""

    def __init__(self) -> None:
        self.requests: list[ExportLogsServiceRequest] = []

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        self.requests.append(request)


async def download(endpoint: str, digest: str) -> bytes:
    async with grpc.aio.insecure_channel(endpoint) as channel:
        stub = artifact_pb2_grpc.ArtifactServiceStub(channel)
        chunks: AsyncIterator[Any] = stub.Download(artifact_pb2.DownloadRequest(sha256=digest))
        return b"".join([chunk.data async for chunk in chunks])


def test_blob_reaches_the_gateway_before_its_event_and_outlives_the_sidecar(
    tmp_path: Path, host: Any, hop: Any, serve_hop: Any
) -> None:
    """The blob is committed at the gateway before the logs request with its event arrives; it stays after the sidecar's store is gone."""
    sidecar, gateway_dir = tmp_path / "sidecar", tmp_path / "gateway"
    put(sidecar, BLOB)
    gateway_store = BlobStore(gateway_dir, max_blob_bytes=1 << 40)
    seen_at_arrival: list[bool] = []
    hop.on_logs = lambda request: seen_at_arrival.append(gateway_store.stat(DIGEST).exists)
    gateway_events = GatewaySink()
    service = ArtifactService(
        ArtifactsConfig(directory=str(gateway_dir)), consume_logs=gateway_events.consume_logs
    )

    async def scenario() -> bytes:
        async with serve_hop(hop, artifacts=service):
            exporter = factory.create(
                exporter_config(hop.endpoint, sidecar), id=ComponentID("otlp")
            )
            await exporter.start(host)
            await exporter.consume_logs(artifact_event(INFO, sha256=DIGEST, size=len(BLOB)))
            await exporter.consume_logs(artifact_event(INFO, sha256=DIGEST, size=len(BLOB)))
            while len(hop.requests[Signal.LOGS]) < 2:
                await asyncio.sleep(0.02)
            await exporter.shutdown()
            shutil.rmtree(sidecar)  # the pod is gone
            return await download(hop.endpoint, DIGEST)

    assert run(scenario()) == BLOB
    assert seen_at_arrival == [True, True]
    assert gateway_events.requests == []  # the forwarded event is the only announcement


def test_upload_resumes_from_what_the_gateway_already_has(
    tmp_path: Path, host: Any, wire: Any, hop: Any, serve_hop: Any
) -> None:
    """A blob half-uploaded to the gateway earlier is completed from the gateway's committed bytes."""
    sidecar, gateway_dir = tmp_path / "sidecar", tmp_path / "gateway"
    put(sidecar, BLOB)
    put(gateway_dir, BLOB, upto=1024 * 1024)
    service = ArtifactService(ArtifactsConfig(directory=str(gateway_dir)))
    request = artifact_event(INFO, sha256=DIGEST, size=len(BLOB))
    request.MergeFrom(wire.events((semconv.EVENT_RUN_END, {"status": "completed"})))

    async def scenario() -> Any:
        async with serve_hop(hop, artifacts=service):
            pusher = OtlpExporter(exporter_config(hop.endpoint, sidecar), id=ComponentID("otlp"))
            await pusher.start(host)
            assert (await service.stat(DIGEST)).committed_bytes == 1024 * 1024
            await pusher.push(Signal.LOGS, request)
            await pusher.shutdown()
            return pusher.forwarder

    forwarder = run(scenario())
    assert (forwarder.forwarded, forwarder.skipped) == (1, 0)
    assert (gateway_dir / "blobs" / DIGEST[:2] / DIGEST[2:]).read_bytes() == BLOB
    assert hop.requests[Signal.LOGS] == [request]


def test_plain_otel_next_hop_gets_the_events_without_blobs(
    tmp_path: Path, host: Any, hop: Any, serve_hop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A next hop without the ArtifactService (UNIMPLEMENTED) still gets every event; the exporter says so once."""
    sidecar = tmp_path / "sidecar"
    put(sidecar, BLOB)
    other = os.urandom(100)
    put(sidecar, other)

    async def scenario() -> Any:
        async with serve_hop(hop):  # no artifacts service: a plain OpenTelemetry collector
            pusher = OtlpExporter(exporter_config(hop.endpoint, sidecar), id=ComponentID("otlp"))
            await pusher.start(host)
            await pusher.push(Signal.LOGS, artifact_event(INFO, sha256=DIGEST, size=len(BLOB)))
            other_digest = hashlib.sha256(other).hexdigest()
            await pusher.push(Signal.LOGS, artifact_event(INFO, sha256=other_digest, size=100))
            await pusher.shutdown()
            return pusher.forwarder

    with caplog.at_level(logging.WARNING):
        forwarder = run(scenario())
    assert forwarder.next_hop_has_artifacts is False
    assert len(hop.requests[Signal.LOGS]) == 2
    assert caplog.text.count("has no trainwire ArtifactService") == 1


def test_blob_missing_locally_does_not_hold_back_its_event(
    tmp_path: Path, host: Any, hop: Any, serve_hop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An event whose blob is not in the local store is forwarded anyway, with a warning."""
    service = ArtifactService(ArtifactsConfig(directory=str(tmp_path / "gateway")))

    async def scenario() -> Any:
        async with serve_hop(hop, artifacts=service):
            config = exporter_config(hop.endpoint, tmp_path / "empty-sidecar")
            pusher = OtlpExporter(config, id=ComponentID("otlp"))
            await pusher.start(host)
            await pusher.push(Signal.LOGS, artifact_event(INFO, sha256=DIGEST, size=len(BLOB)))
            await pusher.shutdown()
            return pusher.forwarder

    with caplog.at_level(logging.WARNING):
        forwarder = run(scenario())
    assert (forwarder.forwarded, forwarder.skipped) == (0, 1)
    assert len(hop.requests[Signal.LOGS]) == 1
    assert "not in the local store" in caplog.text


def test_blob_the_gateway_refuses_for_good_is_skipped_and_the_event_forwarded(
    tmp_path: Path, host: Any, hop: Any, serve_hop: Any
) -> None:
    """A blob over the gateway's size limit (a permanent refusal) is skipped; its event still goes on."""
    sidecar = tmp_path / "sidecar"
    put(sidecar, BLOB)
    service = ArtifactService(
        ArtifactsConfig(directory=str(tmp_path / "gateway"), max_blob_size_mib=1)
    )

    async def scenario() -> Any:
        async with serve_hop(hop, artifacts=service):
            pusher = OtlpExporter(exporter_config(hop.endpoint, sidecar), id=ComponentID("otlp"))
            await pusher.start(host)
            await pusher.push(Signal.LOGS, artifact_event(INFO, sha256=DIGEST, size=len(BLOB)))
            await pusher.shutdown()
            return pusher.forwarder

    forwarder = run(scenario())
    assert (forwarder.forwarded, forwarder.skipped) == (0, 1)
    assert len(hop.requests[Signal.LOGS]) == 1
