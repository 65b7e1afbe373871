"""``GET /api/runs/{id}/stream``: a run's new points, events and status as server-sent events.

Events sent (each ``data:`` is one JSON object):

- ``run``: the run (as in ``GET /api/runs``) on connect and whenever its status changes;
- ``metrics``: ``{"points": [{"key", "attributes", "step", "time", "value"}]}``, new points;
- ``events``: ``{"events": [event]}``, new events (console lines, alerts, run events);
- ``end``: the run (it has ended), after which the server closes the stream.

Each message carries ``id: <cursor>``; a client reconnecting with ``Last-Event-ID`` (or
``?after=<cursor>``) continues from there. A comment line every 15 s keeps proxies open.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiohttp import web

from trainwire import semconv
from trainwire.exporters.sqlite.query import RunQuery

__all__ = ["stream_run"]

_KEEPALIVE_S = 15.0
_STATUS_CHECK_S = 2.0  # a killed embedded run turns crashed without any write to the store


async def stream_run(
    request: web.Request,
    query: RunQuery,
    run_id: str,
    *,
    after: int | None,
    interval_s: float,
    call: Callable[[Callable[[], Any]], Awaitable[Any]],
    dumps: Callable[[Any], str],
) -> web.StreamResponse:
    """Serve the stream of ``run_id`` until it ends or the client goes away."""
    last_id = request.headers.get("Last-Event-ID", "")
    if after is None and last_id.isdigit():
        after = int(last_id)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    run = await call(lambda: query.brief(run_id))
    cursor = after if after is not None else int(run["last_seen"] or 0)

    async def send(event: str, data: Any) -> None:
        await response.write(f"event: {event}\nid: {cursor}\ndata: {dumps(data)}\n\n".encode())

    try:
        await send("run", run)
        version, checked, sent = -1, 0.0, time.monotonic()
        while True:
            now = time.monotonic()
            current = await call(query.data_version)
            if current != version:
                version = current
                update = await call(partial(query.updates, run_id, after=cursor))
                cursor = update["cursor"]
                if update["points"]:
                    await send("metrics", {"points": update["points"]})
                    sent = now
                if update["events"]:
                    await send("events", {"events": update["events"]})
                    sent = now
                if update["points"] or update["events"]:
                    version = -1  # a full page may have left more: read again at once
                    continue
                checked = 0.0
            if now - checked >= _STATUS_CHECK_S:
                checked = now
                latest = await call(lambda: query.brief(run_id))
                if latest["status"] != semconv.STATUS_RUNNING:
                    await send("end", latest)
                    break
                if latest["status"] != run["status"]:
                    run = latest
                    await send("run", run)
                    sent = now
            if now - sent >= _KEEPALIVE_S:
                await response.write(b": keepalive\n\n")
                sent = now
            await asyncio.sleep(interval_s)
    except ConnectionError:
        return response
    await response.write_eof()
    return response
