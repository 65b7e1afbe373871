"""The HTTP twin of the artifact service on aiohttp's real server, with a real client."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from trainwire import semconv
from trainwire.anyvalue import attributes_to_dict, from_any_value
from trainwire.collector.artifacts import ArtifactsConfig, ArtifactService, artifact_routes
from trainwire.errors import RetryableExportError

T = TypeVar("T")
BLOB = os.urandom(300_000)
DIGEST = hashlib.sha256(BLOB).hexdigest()


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


@asynccontextmanager
async def http_twin(
    directory: Path, sink: Any = None, max_blob_size_mib: int = 64
) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """Serve the artifact routes on 127.0.0.1:0 and yield a client session and the base URL."""
    config = ArtifactsConfig(directory=str(directory), max_blob_size_mib=max_blob_size_mib)
    service = ArtifactService(config, consume_logs=sink.consume_logs if sink else None)
    app = web.Application()
    app.add_routes(artifact_routes(service))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            yield session, f"http://127.0.0.1:{port}/v1/artifacts"
    finally:
        await runner.cleanup()


def artifact_headers(name: str = "plots/loss curve ü.png", run_id: str = "run-1") -> dict[str, str]:
    return {
        "X-Trainwire-Run-Id": run_id,
        "X-Trainwire-Artifact-Name": quote(name),
        "X-Trainwire-Artifact-Kind": "figure",
        "X-Trainwire-Mime-Type": "image/png",
        "X-Trainwire-Attributes": quote(json.dumps({"epoch": "3"})),
    }


def test_put_whole_blob_then_stat_and_get_it(tmp_path: Path, sink: Any) -> None:
    """A single PUT (size from Content-Length) commits the blob; GET stat says it exists and /content returns it."""

    async def scenario() -> None:
        async with http_twin(tmp_path, sink) as (http, base):
            async with http.get(f"{base}/{DIGEST}") as response:
                assert await response.json() == {
                    "sha256": DIGEST,
                    "exists": False,
                    "committed_bytes": 0,
                    "size": 0,
                }
            async with http.put(
                f"{base}/{DIGEST}", data=BLOB, headers=artifact_headers()
            ) as response:
                assert response.status == 200
                assert await response.json() == {
                    "sha256": DIGEST,
                    "committed_bytes": len(BLOB),
                    "committed": True,
                }
            async with http.get(f"{base}/{DIGEST}") as response:
                body = await response.json()
                assert (body["exists"], body["size"]) == (True, len(BLOB))
            async with http.get(f"{base}/{DIGEST}/content") as response:
                assert response.status == 200
                assert response.headers["ETag"] == f'"{DIGEST}"'
                assert await response.read() == BLOB

    run(scenario())
    [request] = sink.requests
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    assert from_any_value(record.body)["name"] == "plots/loss curve ü.png"
    assert from_any_value(record.body)["kind"] == "figure"
    assert attributes_to_dict(record.attributes)["epoch"] == "3"
    assert record.event_name == semconv.EVENT_ARTIFACT


def test_put_in_parts_resumes_at_offset_and_refuses_a_wrong_one(tmp_path: Path, sink: Any) -> None:
    """PUTs at ?offset=N append; a wrong offset is 409 with committed_bytes; the event comes once, after the last part."""
    total = {"X-Trainwire-Total-Size": str(len(BLOB))}

    async def scenario() -> None:
        async with http_twin(tmp_path, sink) as (http, base):
            async with http.put(
                f"{base}/{DIGEST}?offset=0", data=BLOB[:100_000], headers=total
            ) as r:
                assert await r.json() == {
                    "sha256": DIGEST,
                    "committed_bytes": 100_000,
                    "committed": False,
                }
            async with http.put(f"{base}/{DIGEST}?offset=5", data=BLOB[5:], headers=total) as r:
                assert r.status == 409
                assert (await r.json())["committed_bytes"] == 100_000
                assert r.headers["X-Trainwire-Committed-Bytes"] == "100000"
            async with http.get(f"{base}/{DIGEST}") as r:
                assert (await r.json())["committed_bytes"] == 100_000
            assert sink.requests == []
            headers = {**total, **artifact_headers()}
            async with http.put(
                f"{base}/{DIGEST}?offset=100000", data=BLOB[100_000:], headers=headers
            ) as r:
                assert (await r.json())["committed"] is True

    run(scenario())
    assert len(sink.requests) == 1


@pytest.mark.parametrize(
    ("range_header", "status", "expected", "content_range"),
    [
        ("bytes=0-9", 206, BLOB[:10], f"bytes 0-9/{len(BLOB)}"),
        ("bytes=1000-", 206, BLOB[1000:], f"bytes 1000-{len(BLOB) - 1}/{len(BLOB)}"),
        ("bytes=-500", 206, BLOB[-500:], f"bytes {len(BLOB) - 500}-{len(BLOB) - 1}/{len(BLOB)}"),
        ("bytes=10-999999999", 206, BLOB[10:], f"bytes 10-{len(BLOB) - 1}/{len(BLOB)}"),
        ("bytes=0-1,5-6", 200, BLOB, None),
        ("items=0-1", 200, BLOB, None),
        ("bytes=9-3", 200, BLOB, None),
    ],
)
def test_content_honours_a_single_byte_range(
    tmp_path: Path, range_header: str, status: int, expected: bytes, content_range: str | None
) -> None:
    """GET /content with Range answers 206 with Content-Range; multiple or malformed ranges get the whole blob."""

    async def scenario() -> None:
        async with http_twin(tmp_path) as (http, base):
            await (await http.put(f"{base}/{DIGEST}", data=BLOB)).release()
            async with http.get(f"{base}/{DIGEST}/content", headers={"Range": range_header}) as r:
                assert r.status == status
                assert r.headers.get("Content-Range") == content_range
                assert await r.read() == expected

    run(scenario())


def test_unsatisfiable_range_missing_blob_and_bad_digest_get_clear_statuses(tmp_path: Path) -> None:
    """A range past the end is 416, an unknown blob 404, a malformed digest 400, each with a JSON error."""

    async def scenario() -> None:
        async with http_twin(tmp_path) as (http, base):
            await (await http.put(f"{base}/{DIGEST}", data=BLOB)).release()
            range_ = {"Range": f"bytes={len(BLOB)}-"}
            async with http.get(f"{base}/{DIGEST}/content", headers=range_) as r:
                assert r.status == 416
                assert r.headers["Content-Range"] == f"bytes */{len(BLOB)}"
            unknown = hashlib.sha256(b"unknown").hexdigest()
            async with http.get(f"{base}/{unknown}/content") as r:
                assert r.status == 404 and "no blob" in (await r.json())["error"]
            for url in (f"{base}/NOT-A-DIGEST", f"{base}/{'..%2F' * 5}x"):
                async with http.get(url) as r:
                    assert r.status in (400, 404)
            async with http.put(f"{base}/{'a' * 63}", data=b"x") as r:
                assert r.status == 400 and "64 lowercase hex" in (await r.json())["error"]

    run(scenario())
    assert [p for p in tmp_path.rglob("*") if p.is_file() and "blobs" not in p.parts] == []


def test_digest_mismatch_and_oversized_uploads_are_refused(tmp_path: Path, sink: Any) -> None:
    """A body that does not hash to the URL's digest is 400 and a blob over the limit 413; nothing is committed."""

    async def scenario() -> None:
        async with http_twin(tmp_path, sink, max_blob_size_mib=1) as (http, base):
            wrong = hashlib.sha256(b"other").hexdigest()
            async with http.put(f"{base}/{wrong}", data=BLOB, headers=artifact_headers()) as r:
                assert r.status == 400 and "nothing was committed" in (await r.json())["error"]
            big = {"X-Trainwire-Total-Size": str(2 * 1024 * 1024)}
            async with http.put(f"{base}/{DIGEST}", data=BLOB, headers=big) as r:
                assert r.status == 413
            async with http.put(f"{base}/{DIGEST}?offset=abc", data=BLOB) as r:
                assert r.status == 400

    run(scenario())
    assert list((tmp_path / "blobs").rglob("*")) == [] and sink.requests == []


def test_event_refused_by_the_pipeline_is_503_with_retry_after(tmp_path: Path, sink: Any) -> None:
    """When the logs consumer refuses the event the PUT is 503 with Retry-After; repeating it commits and emits once."""
    sink.failures.append(RetryableExportError("full", retry_after_s=3))

    async def scenario() -> None:
        async with http_twin(tmp_path, sink) as (http, base):
            async with http.put(f"{base}/{DIGEST}", data=BLOB, headers=artifact_headers()) as r:
                assert r.status == 503 and r.headers["Retry-After"] == "3"
            async with http.put(f"{base}/{DIGEST}", data=BLOB, headers=artifact_headers()) as r:
                assert r.status == 200

    run(scenario())
    assert len(sink.requests) == 1


def test_corrupt_blob_is_refused_with_500_before_any_byte(tmp_path: Path) -> None:
    """GET /content of a blob whose bytes no longer match is a 500 JSON error, and the blob is set aside."""

    async def scenario() -> None:
        async with http_twin(tmp_path) as (http, base):
            await (await http.put(f"{base}/{DIGEST}", data=BLOB)).release()
            path = tmp_path / "blobs" / DIGEST[:2] / DIGEST[2:]
            path.chmod(0o644)
            path.write_bytes(BLOB[:-1])
            async with http.get(f"{base}/{DIGEST}/content", headers={"Range": "bytes=0-9"}) as r:
                assert r.status == 500 and "corrupt" in (await r.json())["error"]
            async with http.get(f"{base}/{DIGEST}") as r:
                assert (await r.json())["exists"] is False

    run(scenario())
