"""The collector service: load a config, run its graph, stop cleanly on a signal.

It owns the collector's own telemetry (one registry for every component, served on
``service::telemetry::metrics::address`` when set) and tells extensions that watch
the pipelines (:class:`PipelineWatcher`, e.g. health_check) when they are ready and
when shutdown begins, as the Collector's ``Ready()``/``NotReady()`` do.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Protocol, runtime_checkable

from trainwire.collector.config import CollectorConfig
from trainwire.collector.pipeline import Graph, GraphHost
from trainwire.collector.selftelemetry import TelemetryServer
from trainwire.collector.telemetry import Telemetry

__all__ = ["PipelineWatcher", "Service"]

logger = logging.getLogger(__name__)


@runtime_checkable
class PipelineWatcher(Protocol):
    """An extension that wants to know whether the pipelines are serving."""

    def ready(self) -> None:
        """Every component has started."""

    def not_ready(self) -> None:
        """Shutdown has begun (or start failed)."""


class Service:
    """Runs one validated config until stopped."""

    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.graph = Graph(config)
        self.telemetry = Telemetry()
        """The collector's own metrics, shared by every component."""
        self.telemetry_server: TelemetryServer | None = None
        if config.telemetry.metrics.address:
            self.telemetry_server = TelemetryServer(
                config.telemetry.metrics.address, self.telemetry
            )
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to shut down."""
        self._stop.set()

    async def run(self) -> None:
        """Start everything, wait for SIGTERM/SIGINT or :meth:`stop`, then drain and shut down."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        try:
            if self.telemetry_server is not None:
                self.telemetry_server.start()
            await self.graph.start(GraphHost(self.graph, self.telemetry))
            self._tell_watchers(ready=True)
            logger.info("collector started")
            await self._stop.wait()
            logger.info("shutting down: stopping receivers, draining exporters")
        finally:
            self._tell_watchers(ready=False)
            await self.graph.shutdown()
            if self.telemetry_server is not None:
                self.telemetry_server.stop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        logger.info("collector stopped")

    def _tell_watchers(self, *, ready: bool) -> None:
        for extension in self.graph.extensions.values():
            if not isinstance(extension, PipelineWatcher):
                continue
            if ready:
                extension.ready()
            else:
                extension.not_ready()
