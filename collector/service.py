"""The collector service: load a config, run its graph, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import logging
import signal

from trainwire.collector.config import CollectorConfig
from trainwire.collector.pipeline import Graph, GraphHost

__all__ = ["Service"]

logger = logging.getLogger(__name__)


class Service:
    """Runs one validated config until stopped."""

    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.graph = Graph(config)
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
            await self.graph.start(GraphHost(self.graph))
            logger.info("collector started")
            await self._stop.wait()
            logger.info("shutting down: stopping receivers, draining exporters")
        finally:
            await self.graph.shutdown()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        logger.info("collector stopped")
