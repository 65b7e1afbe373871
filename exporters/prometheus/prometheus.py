"""The ``prometheus`` exporter: the latest value of every series on ``/metrics``.

It consumes directly, without the exporter helper's queue: it keeps only the
latest value of each series in memory and has no destination that can be down,
so taking a request is a few dictionary updates that cannot fail or wait. A
persistent queue would only add disk writes to replay values already superseded,
and ingestion is never blocked (prometheus is not the system of record). Scrapes
are served on a thread of their own, from a copy of the series, so a slow scrape
never holds the event loop. It sits in the logs pipeline too, to learn run names
(``ml.run.start``, ``ml.run.rename``) and ends (``ml.run.end``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire.collector.component import ComponentID, Host
from trainwire.collector.endpoint import parse_endpoint
from trainwire.errors import ConfigError
from trainwire.exporters.prometheus.config import PrometheusExporterConfig
from trainwire.exporters.prometheus.series import SeriesStore
from trainwire.exporters.prometheus.translate import Translator

__all__ = ["PrometheusExporter"]

logger = logging.getLogger(__name__)

_SWEEP_EVERY_S = 1.0


class PrometheusExporter:
    """Serves what it consumed in the Prometheus text format and OpenMetrics (by Accept)."""

    def __init__(
        self,
        config: PrometheusExporterConfig,
        *,
        id: ComponentID,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.id = id
        self.store = SeriesStore(
            expiration_s=config.metric_expiration_s,
            max_series=config.max_series,
            clock=clock,
            on_refused=self._count_refused,
        )
        self.translator = Translator(self.store, config)
        self.port: int | None = None
        """The port ``/metrics`` listens on once started (useful with port 0)."""
        self._server: Any = None
        self._refused: Any = None
        self._sent: Any = None

    async def start(self, host: Host) -> None:
        """Listen on ``endpoint``.

        Raises:
            ConfigError: prometheus-client is not installed.
            OSError: the endpoint cannot be bound.
        """
        try:
            from trainwire.exporters.prometheus.exposition import Exposition
            from trainwire.exporters.prometheus.server import MetricsServer
        except ImportError:
            raise ConfigError(
                f"exporters::{self.id}: needs prometheus-client;"
                " pip install 'trainwire[prometheus]'"
            ) from None
        self._register_telemetry(host)
        bind_host, port = parse_endpoint(self.config.endpoint)
        try:
            self._server = MetricsServer(Exposition(self.store), bind_host, port)
        except OSError as exc:
            raise OSError(f"{self.id}: cannot listen on {self.config.endpoint}: {exc}") from None
        self.port = self._server.port
        logger.info("%s exporter: /metrics listening on %s:%d", self.id, bind_host, self.port)

    def _register_telemetry(self, host: Host) -> None:
        telemetry = host.telemetry
        exporter = str(self.id)
        self._sent = telemetry.counter(
            "otelcol_exporter_sent_metric_points", "Items delivered by the exporter.", ("exporter",)
        )
        self._refused = telemetry.counter(
            "otelcol_exporter_prometheus_refused_series",
            "Points refused because max_series series were live.",
            ("exporter",),
        )
        telemetry.gauge(
            "otelcol_exporter_prometheus_series", "Series the exporter serves.", ("exporter",)
        ).set_function(lambda: float(len(self.store)), exporter=exporter)

    def _count_refused(self, amount: int) -> None:
        if self._refused is not None:
            self._refused.add(amount, exporter=str(self.id))

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Take the latest values (deltas added up) of every point in ``request``."""
        taken = self.translator.consume_metrics(request)
        if self._sent is not None and taken:
            self._sent.add(taken, exporter=str(self.id))
        self.store.sweep(every_s=_SWEEP_EVERY_S)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Follow run names and ends from run events; other records are ignored."""
        self.translator.consume_logs(request)

    async def shutdown(self) -> None:
        """Stop serving; safe before start and twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
