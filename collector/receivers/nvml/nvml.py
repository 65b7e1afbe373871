"""The nvml receiver: NVIDIA GPUs, and the GPU memory of each run's processes.

Every ``collection_interval_s`` it reads each GPU through NVML (nvidia-ml-py,
blocking calls, in a worker thread) and emits one metrics request with
``host.name`` as its Resource: OpenTelemetry's ``hw.*`` names where they exist,
``nvml.gpu.*`` otherwise (see ``trainwire.semconv``). Each process's GPU memory
carries ``process.pid``, ``k8s.pod.uid`` when the process runs in a pod, and, when
it is a known run rank's (see :mod:`trainwire.collector.rundirectory`), the run's
``ml.run.id`` and ``ml.run.rank``.

Without nvidia-ml-py, a driver or a GPU it logs one line and stays idle, unless
``required: true``, which makes the collector's start fail instead.
"""

from __future__ import annotations

import importlib
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
from trainwire.collector.receivers.nvml.config import NvmlReceiverConfig
from trainwire.collector.receivers.nvml.device import DeviceReader
from trainwire.collector.receivers.nvml.processes import RunMatcher
from trainwire.collector.receivers.scraper import PointsBuilder, ScrapingReceiver
from trainwire.collector.rundirectory import RunDirectory, run_directory
from trainwire.errors import ConfigError

__all__ = ["NvmlReceiver"]

logger = logging.getLogger(__name__)


class NvmlReceiver(ScrapingReceiver):
    """Reads every GPU each ``collection_interval_s`` and feeds the metrics pipelines."""

    def __init__(
        self,
        config: NvmlReceiverConfig,
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
        self._proc = Path(config.root_path or "/") / "proc"
        self._lib: Any = None
        self.devices: list[DeviceReader] = []
        self._start_ns = 0

    def open(self) -> bool:
        """Load NVML and find the GPUs; False (after one log line) when there are none."""
        problem = self._open()
        if problem is None:
            names = ", ".join(f"{d.index}: {d.name}" for d in self.devices)
            logger.info("%s receiver: watching %d GPU(s) (%s)", self.id, len(self.devices), names)
            return True
        if self.config.required:
            raise ConfigError(
                f"receivers::{self.id}: {problem}; (required: true) fix this or set"
                " required: false to let the collector run without GPU metrics"
            )
        logger.info("%s receiver: %s; no GPU metrics from this host", self.id, problem)
        return False

    def _open(self) -> str | None:
        try:
            lib = importlib.import_module(self.config.library)
        except ImportError as exc:
            if self.config.library == "pynvml":
                return "nvidia-ml-py is not installed; pip install 'trainwire[nvml]'"
            return f"cannot import library {self.config.library!r}: {exc}"
        try:
            lib.nvmlInit()
        except lib.NVMLError as exc:
            return f"NVML did not start ({exc}): no NVIDIA driver on this host?"
        try:
            count = lib.nvmlDeviceGetCount()
            self.devices = [DeviceReader(lib, i) for i in range(count)]
        except lib.NVMLError as exc:
            lib.nvmlShutdown()
            return f"NVML could not list the GPUs ({exc})"
        if not self.devices:
            lib.nvmlShutdown()
            return "NVML found no GPU"
        self._lib = lib
        self._start_ns = time.time_ns()
        return None

    def close(self) -> None:
        """Shut NVML down."""
        lib, self._lib = self._lib, None
        self.devices = []
        if lib is not None:
            try:
                lib.nvmlShutdown()
            except lib.NVMLError as exc:
                logger.debug("%s receiver: nvmlShutdown failed: %s", self.id, exc)

    def collect(self) -> ExportMetricsServiceRequest | None:
        """Read every GPU once."""
        points = PointsBuilder(
            {semconv.HOST_NAME: self.host_name}, semconv.SCOPE_NVML, time_unix_nano=time.time_ns()
        )
        matcher = RunMatcher(self._directory.processes(), host_name=self.host_name, proc=self._proc)
        for device in self.devices:
            device.read(points, start_time_unix_nano=self._start_ns)
            if self.config.per_process:
                for pid, used in device.processes():
                    attributes: dict[str, Any] = {**device.attributes, semconv.PROCESS_PID: pid}
                    run = matcher.match(pid)
                    if run is not None:
                        attributes.update(run.attributes())
                    pod = matcher.pod_uid(pid)
                    if pod is not None:  # joins runs by pod even when no run is known here
                        attributes[semconv.K8S_POD_UID] = pod
                    points.gauge(semconv.NVML_GPU_PROCESS_MEMORY_USAGE, "By", used, attributes)
        return None if points.empty else points.request
