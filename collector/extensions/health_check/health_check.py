"""The health_check extension: ``GET <path>`` answers 200 while the collector serves, else 503.

As in the OpenTelemetry Collector, the body is
``{"status": "Server available", "upSince": ..., "uptime": ...}``; while the
pipelines are starting, or once shutdown has begun, it is 503 with
``"Server not available"``. The service tells the extension through
:meth:`HealthCheckExtension.ready` and :meth:`HealthCheckExtension.not_ready`.
Serving needs aiohttp (``pip install 'trainwire[server]'``), imported at start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from trainwire.collector.component import ComponentID, Host
from trainwire.collector.endpoint import parse_endpoint
from trainwire.collector.extensions.health_check.config import HealthCheckConfig
from trainwire.errors import ConfigError

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["HealthCheckExtension"]

logger = logging.getLogger(__name__)

_NEVER = "0001-01-01T00:00:00Z"  # Go's zero time, which the Collector reports before it is up


class HealthCheckExtension:
    """Serves the collector's health over HTTP."""

    def __init__(
        self,
        config: HealthCheckConfig,
        *,
        id: ComponentID,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.id = id
        self._clock = clock
        self._ready = False
        self._up_since: float | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        """The port it listens on, once started (useful with port 0)."""

    async def start(self, host: Host) -> None:
        """Listen on ``endpoint``; answer 503 until :meth:`ready` is called."""
        try:
            from aiohttp import web
        except ImportError:
            raise ConfigError(
                f"extensions::{self.id}: serving health needs aiohttp;"
                " pip install 'trainwire[server]'"
            ) from None
        bind_host, port = parse_endpoint(self.config.endpoint)
        app = web.Application()
        app.router.add_get(self.config.path, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, bind_host, port).start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(f"{self.id}: cannot listen on {self.config.endpoint}: {exc}") from None
        self._runner = runner
        self.port = _bound_port(runner)
        logger.info("%s extension: health listening on %s:%d", self.id, bind_host, self.port)

    def ready(self) -> None:
        """The pipelines are running: answer 200."""
        self._up_since = self._clock()
        self._ready = True

    def not_ready(self) -> None:
        """Starting over or shutting down: answer 503."""
        self._ready = False

    def status(self) -> tuple[int, dict[str, str]]:
        """The HTTP status and JSON body the endpoint answers now."""
        up_since = self._up_since
        body = {
            "status": "Server available" if self._ready else "Server not available",
            "upSince": _NEVER if up_since is None else _iso(up_since),
            "uptime": "" if up_since is None else _duration(self._clock() - up_since),
        }
        return (200 if self._ready else 503), body

    async def _handle(self, request: web.Request) -> web.Response:
        from aiohttp import web

        code, body = self.status()
        return web.json_response(body, status=code)

    async def shutdown(self) -> None:
        """Stop listening; safe before start and twice."""
        self._ready = False
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def _bound_port(runner: Any) -> int:
    return int(runner.addresses[0][1])


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _duration(seconds: float) -> str:
    """Format like Go's ``time.Duration`` (``49.01s``, ``2m3.5s``, ``1h0m2s``), as the Collector."""
    seconds = max(0.0, seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.6f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{int(minutes)}m{text}"
    return text
