"""Serve the collector's own metrics over HTTP in the Prometheus text format."""

from __future__ import annotations

import logging
import threading
from typing import Any

from trainwire.collector.endpoint import parse_endpoint
from trainwire.collector.selftelemetry.process import ProcessStats
from trainwire.collector.telemetry import Telemetry
from trainwire.errors import ConfigError

__all__ = ["TelemetryServer"]

logger = logging.getLogger(__name__)


class TelemetryServer:
    """The ``service::telemetry::metrics`` endpoint, on a thread of its own.

    Its own thread keeps it answering while the event loop is busy, which is when
    the numbers matter most.
    """

    def __init__(
        self, address: str, telemetry: Telemetry, *, process: ProcessStats | None = None
    ) -> None:
        self.address = address
        self.telemetry = telemetry
        self.process = process or ProcessStats()
        self.port: int | None = None
        """The port it listens on once started (useful with port 0)."""
        self._httpd: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen on ``address``.

        Raises:
            ConfigError: prometheus-client is not installed.
            OSError: the address cannot be bound.
        """
        try:
            from prometheus_client import CollectorRegistry, start_http_server

            from trainwire.collector.selftelemetry.prometheus import TelemetryCollector
        except ImportError:
            raise ConfigError(
                "service::telemetry::metrics::address: serving the collector's own metrics"
                " needs prometheus-client; pip install 'trainwire[prometheus]'"
            ) from None
        host, port = parse_endpoint(self.address)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(TelemetryCollector(self.telemetry, self.process))
        try:
            self._httpd, self._thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise OSError(f"telemetry: cannot listen on {self.address}: {exc}") from None
        self.port = int(self._httpd.server_address[1])
        logger.info("telemetry: prometheus listening on %s:%d", host, self.port)

    def stop(self) -> None:
        """Stop serving; safe before start and twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
