"""The HTTP twin of the artifact service (aiohttp), for the OTLP HTTP port.

=======================================  ==============================================
``GET  /v1/artifacts/{sha256}``          Stat as JSON: exists, committed_bytes, size
``PUT  /v1/artifacts/{sha256}?offset=N`` append the body at N (resumable upload)
``GET  /v1/artifacts/{sha256}/content``  the blob; ``Range: bytes=…`` gives a 206
=======================================  ==============================================

A PUT names the blob's total size in ``X-Trainwire-Total-Size`` (without it, an
upload from offset 0 takes ``Content-Length`` as the whole blob) and describes the
artifact with ``X-Trainwire-Run-Id``, ``X-Trainwire-Artifact-Name`` (percent-encoded
UTF-8), ``X-Trainwire-Artifact-Kind``, ``X-Trainwire-Mime-Type`` and, optionally,
``X-Trainwire-Attributes`` (a percent-encoded JSON object of strings). Errors are
JSON ``{"error": …}`` with the status of :mod:`.errors`; a refused offset (409)
also carries ``committed_bytes`` and the header ``X-Trainwire-Committed-Bytes``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from trainwire.collector.artifacts.errors import (
    BlobError,
    InvalidBlobRequestError,
    OffsetMismatchError,
)
from trainwire.collector.artifacts.events import ArtifactInfo
from trainwire.collector.artifacts.service import ArtifactService
from trainwire.collector.artifacts.store import CHUNK_BYTES
from trainwire.errors import PermanentExportError, RetryableExportError

__all__ = ["HEADER_COMMITTED_BYTES", "HEADER_TOTAL_SIZE", "artifact_routes"]

logger = logging.getLogger(__name__)

HEADER_TOTAL_SIZE = "X-Trainwire-Total-Size"
HEADER_COMMITTED_BYTES = "X-Trainwire-Committed-Bytes"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def artifact_routes(service: ArtifactService) -> list[web.RouteDef]:
    """The routes of the HTTP twin: ``app.add_routes(artifact_routes(service))``."""
    handlers = _Handlers(service)
    return [
        web.get("/v1/artifacts/{sha256}", _errors(handlers.stat)),
        web.put("/v1/artifacts/{sha256}", _errors(handlers.upload)),
        web.get("/v1/artifacts/{sha256}/content", _errors(handlers.content), allow_head=False),
    ]


class _Handlers:
    def __init__(self, service: ArtifactService) -> None:
        self.service = service

    async def stat(self, request: web.Request) -> web.StreamResponse:
        sha256 = request.match_info["sha256"]
        stat = await self.service.stat(sha256)
        return web.json_response(
            {
                "sha256": sha256,
                "exists": stat.exists,
                "committed_bytes": stat.committed_bytes,
                "size": stat.size,
            }
        )

    async def upload(self, request: web.Request) -> web.StreamResponse:
        sha256 = request.match_info["sha256"]
        offset = _int(request.query.get("offset", "0"), "offset query parameter")
        total_text = request.headers.get(HEADER_TOTAL_SIZE)
        if total_text is not None:
            total = _int(total_text, HEADER_TOTAL_SIZE)
        elif offset == 0 and request.content_length is not None:
            total = request.content_length
        else:
            raise InvalidBlobRequestError(f"header {HEADER_TOTAL_SIZE} is required")
        result = await self.service.upload(
            sha256,
            total_size=total,
            offset=offset,
            chunks=_body(request),
            info=_info(request),
        )
        return web.json_response(
            {
                "sha256": result.sha256,
                "committed_bytes": result.committed_bytes,
                "committed": result.committed,
            }
        )

    async def content(self, request: web.Request) -> web.StreamResponse:
        sha256 = request.match_info["sha256"]
        size = await self.service.verify(sha256)  # refuse a corrupt blob before any byte is sent
        span = _range(request.headers.get("Range"), size)
        headers = {
            "Accept-Ranges": "bytes",
            "ETag": f'"{sha256}"',
            "Content-Type": "application/octet-stream",
        }
        if span is None:
            status, start, end = 200, 0, size
        elif span == (-1, -1):
            return web.json_response(
                {"error": f"range not satisfiable for a blob of {size} bytes"},
                status=416,
                headers={"Content-Range": f"bytes */{size}"},
            )
        else:
            status, (start, end) = 206, span
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = end - start
        reader = await self.service.open_reader(sha256, offset=start, end=end, verify=False)
        try:
            await response.prepare(request)
            while data := await asyncio.to_thread(reader.read):
                await response.write(data)
        finally:
            reader.close()
        await response.write_eof()
        return response


def _errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except OffsetMismatchError as exc:
            body = {"error": str(exc), "committed_bytes": exc.committed_bytes}
            headers = {HEADER_COMMITTED_BYTES: str(exc.committed_bytes)}
            return web.json_response(body, status=exc.http_status, headers=headers)
        except BlobError as exc:
            return web.json_response({"error": str(exc)}, status=exc.http_status)
        except RetryableExportError as exc:
            delay = max(1, round(exc.retry_after_s or 1.0))
            return web.json_response(
                {"error": f"artifact event not taken: {exc}"},
                status=503,
                headers={"Retry-After": str(delay)},
            )
        except PermanentExportError as exc:
            return web.json_response({"error": f"artifact event refused: {exc}"}, status=500)
        except OSError as exc:
            logger.exception("artifact store failed")
            return web.json_response(
                {"error": f"artifact store failed: {exc.strerror or exc}"},
                status=503,
                headers={"Retry-After": "5"},
            )

    return wrapped


async def _body(request: web.Request) -> Any:
    async for data in request.content.iter_chunked(CHUNK_BYTES):
        yield data


def _info(request: web.Request) -> ArtifactInfo | None:
    headers = request.headers
    run_id = headers.get("X-Trainwire-Run-Id")
    name = headers.get("X-Trainwire-Artifact-Name")
    if run_id is None and name is None:
        return None
    attributes: dict[str, str] = {}
    if raw := headers.get("X-Trainwire-Attributes"):
        try:
            parsed = json.loads(unquote(raw))
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise InvalidBlobRequestError(
                "X-Trainwire-Attributes must be a percent-encoded JSON object of strings"
            )
        attributes = parsed
    return ArtifactInfo.create(
        run_id=unquote(run_id or ""),
        name=unquote(name or ""),
        kind=headers.get("X-Trainwire-Artifact-Kind", ""),
        mime_type=headers.get("X-Trainwire-Mime-Type", ""),
        attributes=attributes,
    )


def _int(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise InvalidBlobRequestError(f"{what} must be a whole number of bytes, got {text!r}")
    return int(text)


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` of one ``bytes=`` range; None to send everything; (-1, -1): 416.

    Multiple or malformed ranges are ignored, as RFC 9110 §14.2 allows.
    """
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or not any(match.groups()):
        return None
    first, last = match.groups()
    if not first:  # suffix range: the last N bytes
        length = int(last)
        return (max(0, size - length), size) if length else (-1, -1)
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        return (-1, -1)
    return start, min(int(last) + 1, size) if last else size
