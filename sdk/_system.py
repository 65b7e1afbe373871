"""System metrics of a run (``init(system_metrics=True)``): this process and its host.

Every ``interval_s`` a daemon thread samples, with psutil (``trainwire[host]``), the
process's CPU utilization and resident memory and the host's CPU and memory
utilization, and hands them to the run's sender as plain OpenTelemetry gauges under
the semantic-convention names, in their own scope. They travel with the run's data.
Without psutil the run says so once and records none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire.records import EncodedRequest
from trainwire.spool import SIGNAL_METRICS

__all__ = ["SCOPE", "SystemSampler"]

logger = logging.getLogger("trainwire")
SCOPE = "trainwire.system"


class SystemSampler:
    """Samples process and host metrics on a daemon thread until stopped."""

    def __init__(
        self, resource: Resource, put: Callable[[Any], None], *, interval_s: float = 10.0
    ) -> None:
        self._resource = resource
        self._put = put
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start sampling; False (after saying why, once) when psutil is not installed."""
        try:
            import psutil
        except ImportError:
            logger.info("trainwire: system metrics need psutil: pip install 'trainwire[host]'")
            return False
        process = psutil.Process()
        process.cpu_percent(None)  # the first reading only sets the baseline
        psutil.cpu_percent(None)
        self._thread = threading.Thread(
            target=self._loop, args=(psutil, process), name="trainwire-system", daemon=True
        )
        self._thread.start()
        return True

    def stop(self) -> None:
        """Take a last sample and stop."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._thread = None

    def _loop(self, psutil: Any, process: Any) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample(psutil, process)
        self._sample(psutil, process)

    def _sample(self, psutil: Any, process: Any) -> None:
        cpus = psutil.cpu_count() or 1
        try:
            values = {
                # Per the semantic conventions: a share of all the CPUs the host has.
                "process.cpu.utilization": process.cpu_percent(None) / 100.0 / cpus,
                "process.memory.usage": float(process.memory_info().rss),
                "system.cpu.utilization": psutil.cpu_percent(None) / 100.0,
                "system.memory.utilization": psutil.virtual_memory().percent / 100.0,
            }
        except Exception:  # a process gone odd must not stop the run
            logger.debug("trainwire: a system metrics sample failed", exc_info=True)
            return
        units = {"process.memory.usage": "By"}
        request = ExportMetricsServiceRequest()
        rm = request.resource_metrics.add()
        rm.resource.CopyFrom(self._resource)
        sm = rm.scope_metrics.add()
        sm.scope.name = SCOPE
        now = time.time_ns()
        for name, value in values.items():
            metric = sm.metrics.add(name=name, unit=units.get(name, "1"))
            metric.gauge.data_points.add(time_unix_nano=now, as_double=value)
        self._put(EncodedRequest(SIGNAL_METRICS, request.SerializeToString()))
