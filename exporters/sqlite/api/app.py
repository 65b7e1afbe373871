"""The HTTP query API: aiohttp handlers over :class:`~trainwire.exporters.sqlite.query.RunQuery`.

Every body is JSON (errors ``{"error": "..."}`` with 400, 401 or 404) except an
artifact's bytes and the server-sent-event stream. Queries run on one worker thread,
so the event loop (and, in the collector, ingestion) never waits on SQLite.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from trainwire.errors import (
    ArtifactNotFoundError,
    CorruptArtifactError,
    CorruptStoreError,
    InvalidQueryError,
    RunNotFoundError,
)
from trainwire.exporters.sqlite.api.openapi import openapi_document
from trainwire.exporters.sqlite.api.page import INDEX_HTML
from trainwire.exporters.sqlite.api.stream import stream_run
from trainwire.exporters.sqlite.blobs import verified_chunks
from trainwire.exporters.sqlite.query import RunQuery

__all__ = ["QUERY_KEY", "VERIFY_FIRST_BYTES", "make_app"]

T = TypeVar("T")
QUERY_KEY: web.AppKey[RunQuery] = web.AppKey("query", RunQuery)
_EXECUTOR_KEY: web.AppKey[ThreadPoolExecutor] = web.AppKey("executor", ThreadPoolExecutor)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
VERIFY_FIRST_BYTES = 256 * 1024 * 1024
"""Blobs up to this size are hashed before the first byte is sent (a mismatch is a clean
error); larger ones are checked while streaming, and the response is aborted on a mismatch."""
_VERIFY_FIRST_KEY: web.AppKey[int] = web.AppKey("verify_first_bytes", int)
_CHUNK = 1024 * 1024


def make_app(
    query: RunQuery,
    *,
    read_token: str | None = None,
    verify_first_bytes: int = VERIFY_FIRST_BYTES,
) -> web.Application:
    """The API's application over ``query`` (closed with the app)."""
    app = web.Application(middlewares=[_errors, _auth(read_token)])
    app[QUERY_KEY] = query
    app[_VERIFY_FIRST_KEY] = verify_first_bytes
    app[_EXECUTOR_KEY] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainwire-api")
    app.router.add_get("/", _index)
    app.router.add_get("/api/openapi.json", _openapi)
    app.router.add_get("/api/runs", _runs)
    app.router.add_get("/api/runs/{run_id}", _run)
    app.router.add_get("/api/runs/{run_id}/metrics", _metrics)
    app.router.add_get("/api/runs/{run_id}/histograms", _histograms)
    app.router.add_get("/api/runs/{run_id}/artifacts", _artifacts)
    app.router.add_get("/api/runs/{run_id}/artifacts/{name:.+}", _artifact)
    app.router.add_get("/api/runs/{run_id}/events", _events)
    app.router.add_get("/api/runs/{run_id}/stream", _stream)
    app.on_cleanup.append(_cleanup)
    return app


async def _cleanup(app: web.Application) -> None:
    app[_EXECUTOR_KEY].shutdown(wait=True)
    app[QUERY_KEY].close()


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def _dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), allow_nan=False)


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (RunNotFoundError, ArtifactNotFoundError) as exc:
        return _json({"error": str(exc)}, 404)
    except InvalidQueryError as exc:
        return _json({"error": str(exc)}, 400)
    except (CorruptArtifactError, CorruptStoreError) as exc:
        return _json({"error": str(exc)}, 500)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and exc.content_type == "text/plain" else exc.reason
        if exc.status == 404:
            message = f"no such path {request.path}; GET /api/openapi.json lists the API"
        elif exc.status == 405:
            message = f"{request.method} is not allowed on {request.path}; use GET"
        response = _json({"error": message}, exc.status)
        if exc.status == 405:
            response.headers["Allow"] = "GET, HEAD"
        return response


def _auth(token: str | None) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if token and request.path != "/":
            given = request.headers.get("Authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), token.encode()
            ):
                response = _json(
                    {
                        "error": "this API needs a read token: send 'Authorization: Bearer <token>'"
                        if not given
                        else "the read token is wrong"
                    },
                    401,
                )
                response.headers["WWW-Authenticate"] = 'Bearer realm="trainwire"'
                return response
        return await handler(request)

    return middleware


async def _call(request: web.Request, fn: Callable[[], T]) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app[_EXECUTOR_KEY], fn)


def _params(request: web.Request, allowed: Mapping[str, type]) -> dict[str, Any]:
    """Query parameters, typed; unknown or malformed ones are a 400 naming them."""
    out: dict[str, Any] = {}
    for key in request.query:
        if key not in allowed:
            raise InvalidQueryError(
                f"unknown query parameter {key!r}; valid here: {', '.join(allowed)}"
            )
        values = request.query.getall(key)
        if len(values) > 1:
            raise InvalidQueryError(f"query parameter {key!r} is given {len(values)} times")
        text = values[0]
        if allowed[key] is int:
            try:
                number = int(text)
            except ValueError:
                raise InvalidQueryError(f"{key} must be an integer, got {text!r}") from None
            if not -(2**63) <= number < 2**63:
                raise InvalidQueryError(f"{key} {text} is out of range")
            out[key] = number
        else:
            out[key] = text
    return out


async def _index(request: web.Request) -> web.Response:
    return web.Response(text=INDEX_HTML, content_type="text/html")


async def _openapi(request: web.Request) -> web.Response:
    return _json(openapi_document())


_RUNS_PARAMS = {
    "experiment": str,
    "status": str,
    "tag": str,
    "label": str,
    "where": str,
    "sort": str,
    "limit": int,
    "offset": int,
}


async def _runs(request: web.Request) -> web.Response:
    params = _params(request, _RUNS_PARAMS)
    query = request.app[QUERY_KEY]
    return _json(await _call(request, lambda: query.list_runs(**params)))


async def _run(request: web.Request) -> web.Response:
    _params(request, {})
    run_id, query = request.match_info["run_id"], request.app[QUERY_KEY]
    return _json(await _call(request, lambda: query.get_run(run_id)))


_METRICS_PARAMS = {"key": str, "from_step": int, "to_step": int, "max_points": int, "limit": int}


async def _metrics(request: web.Request) -> web.Response:
    params = _params(request, _METRICS_PARAMS)
    run_id, query = request.match_info["run_id"], request.app[QUERY_KEY]
    return _json(await _call(request, lambda: query.metrics(run_id, **params)))


_HISTOGRAMS_PARAMS = {"key": str, "from_step": int, "to_step": int, "limit": int}


async def _histograms(request: web.Request) -> web.Response:
    params = _params(request, _HISTOGRAMS_PARAMS)
    run_id, query = request.match_info["run_id"], request.app[QUERY_KEY]
    return _json(await _call(request, lambda: query.histograms(run_id, **params)))


async def _artifacts(request: web.Request) -> web.Response:
    _params(request, {})
    run_id, query = request.match_info["run_id"], request.app[QUERY_KEY]
    return _json(await _call(request, lambda: query.artifacts(run_id)))


async def _artifact(request: web.Request) -> web.StreamResponse:
    _params(request, {})
    run_id, name = request.match_info["run_id"], request.match_info["name"]
    query = request.app[QUERY_KEY]
    meta, path = await _call(request, lambda: query.artifact(run_id, name))
    digest = meta["sha256"]
    if meta["size"] <= request.app[_VERIFY_FIRST_KEY]:
        # Hash it before the first byte: a mismatch is then a clean JSON error.
        await _call(request, lambda: deque(verified_chunks(path, digest, _CHUNK), maxlen=0))
    chunks = verified_chunks(path, digest, _CHUNK)
    response = web.StreamResponse(headers=_artifact_headers(meta))
    response.content_length = path.stat().st_size
    await response.prepare(request)
    iterator = iter(chunks)
    held = b""  # each chunk goes out once the next is read: the last only once it matched
    while True:
        try:
            chunk = await _call(request, lambda: next(iterator, b""))
        except CorruptArtifactError:
            # Headers are gone: cut the connection so the client sees a failed download.
            if request.transport is not None:
                request.transport.close()
            return response
        if held:
            await response.write(held)
        if not chunk:
            break
        held = chunk
    await response.write_eof()
    return response


def _artifact_headers(meta: Mapping[str, Any]) -> dict[str, str]:
    filename = meta["name"].rsplit("/", 1)[-1].replace('"', "")
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return {
        "Content-Type": meta["mime_type"] or "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{ascii_name}"',
        "ETag": f'"{meta["sha256"]}"',
        "X-Trainwire-Sha256": meta["sha256"],
    }


_EVENTS_PARAMS = {"name": str, "after": int, "limit": int}


async def _events(request: web.Request) -> web.Response:
    params = _params(request, _EVENTS_PARAMS)
    run_id, query = request.match_info["run_id"], request.app[QUERY_KEY]
    return _json(await _call(request, lambda: query.events(run_id, **params)))


async def _stream(request: web.Request) -> web.StreamResponse:
    params = _params(request, {"after": int, "interval_s": str})
    run_id, query = request.match_info["run_id"], request.app[QUERY_KEY]
    resolved = await _call(request, lambda: query.resolve(run_id))
    try:
        interval = float(params.get("interval_s", "0.5"))
    except ValueError:
        raise InvalidQueryError("interval_s must be a number of seconds") from None
    if not 0.05 <= interval <= 60:
        raise InvalidQueryError(f"interval_s must be between 0.05 and 60, got {interval}")
    return await stream_run(
        request,
        query,
        resolved,
        after=params.get("after"),
        interval_s=interval,
        call=lambda fn: _call(request, fn),
        dumps=_dumps,
    )
