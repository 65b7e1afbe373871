"""The hostmetrics receiver: the host's CPU, memory, swap, disks, network and load.

Every ``collection_interval_s`` it runs the configured scrapers (psutil, in a worker
thread) and emits one metrics request with ``host.name`` as its Resource, under
OpenTelemetry's ``system.*`` names. The ``process`` scraper adds ``process.*``
metrics of the live run ranks on this host (same ``host.name``, or found in the
host's ``proc`` by pod uid and pid, see :mod:`.runpids`), with the run's
``ml.run.id`` and ``ml.run.rank`` beside ``process.pid`` (as the run reports it).

With ``root_path`` (the host's ``/`` mounted in the collector's container) psutil
reads ``<root_path>/proc``: ``psutil.PROCFS_PATH`` is process-wide, so it is set
while the receiver runs and put back when it stops.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire import semconv
from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.receivers.hostmetrics.config import SCRAPERS, HostmetricsReceiverConfig
from trainwire.collector.receivers.hostmetrics.runpids import RunPids
from trainwire.collector.receivers.hostmetrics.scrapers import HostScrapers
from trainwire.collector.receivers.scraper import PointsBuilder, ScrapingReceiver
from trainwire.collector.rundirectory import RunDirectory, run_directory
from trainwire.errors import ConfigError

__all__ = ["HostmetricsReceiver"]

logger = logging.getLogger(__name__)


class HostmetricsReceiver(ScrapingReceiver):
    """Reads the host each ``collection_interval_s`` and feeds the metrics pipelines."""

    def __init__(
        self,
        config: HostmetricsReceiverConfig,
        *,
        id: ComponentID,
        next_consumers: Mapping[Signal, Any],
        directory: RunDirectory | None = None,
    ) -> None:
        super().__init__(
            id=id, next_consumers=next_consumers, interval_s=config.collection_interval_s
        )
        self.config = config
        self.host_name = config.host_name or socket.gethostname()
        self._directory = directory or run_directory()
        self._scrapers: HostScrapers | None = None
        root = Path(config.root_path or "/")
        self._root = root if config.root_path else None
        self._run_pids = RunPids(root / "proc", host_name=self.host_name)
        self._procfs_before: str | None = None
        self._names = [name for name in SCRAPERS if name in config.scrapers]

    def open(self) -> bool:
        """Load psutil and take the first CPU readings."""
        try:
            import psutil
        except ImportError as exc:
            raise ConfigError(
                f"receivers::{self.id}: needs psutil, which is not installed;"
                " pip install 'trainwire[host]'"
            ) from exc
        if self._root is not None:
            self._procfs_before = psutil.PROCFS_PATH
            psutil.PROCFS_PATH = str(self._root / "proc")
        self._scrapers = HostScrapers(psutil, per_cpu=self.config.per_cpu, root=self._root)
        logger.info(
            "%s receiver: reading %s every %gs",
            self.id,
            ", ".join(self._names),
            self.config.collection_interval_s,
        )
        return True

    def close(self) -> None:
        """Point psutil back at the ``proc`` it read before."""
        if self._procfs_before is not None:
            import psutil

            psutil.PROCFS_PATH, self._procfs_before = self._procfs_before, None

    def collect(self) -> ExportMetricsServiceRequest | None:
        """Run every configured scraper once."""
        scrapers = self._scrapers
        if scrapers is None:
            return None
        points = PointsBuilder(
            {semconv.HOST_NAME: self.host_name},
            semconv.SCOPE_HOSTMETRICS,
            time_unix_nano=time.time_ns(),
        )
        for name in self._names:
            try:
                if name == "process":
                    scrapers.process(points, self._run_pids.find(self._directory.processes()))
                else:
                    getattr(scrapers, name)(points)
            except Exception:  # one broken scraper must not silence the others
                self._complain_once(name, "%s receiver: the %s scraper failed", name, exc_info=True)
        return None if points.empty else points.request
