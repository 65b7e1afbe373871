"""The ``memory_limiter`` processor: refuses data while the collector uses too much memory.

Like the OpenTelemetry Collector's: a task measures the process's resident
memory every ``check_interval_s``. Above the soft limit (the hard limit less the
spike limit) every ``consume_*`` raises :class:`RetryableExportError` with a
Retry-After, so receivers answer UNAVAILABLE (HTTP 503) and clients back off and
resend, rather than the collector running out of memory; above the hard limit it
also runs the garbage collector. Refused units are counted as
``otelcol_processor_refused_{metric_points,log_records,spans}``.

Put it first in a pipeline, so data is refused before other processors copy it.
Resident memory is read from ``/proc/self/statm`` (Linux); where that cannot be
read, ``start`` fails rather than run without a limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.collector.component import ComponentID, Host
from trainwire.collector.processors._otlp import count_items, forward, layout_of
from trainwire.collector.processors._telemetry import ProcessorCounters
from trainwire.collector.processors.memory_limiter.config import MemoryLimiterProcessorConfig
from trainwire.errors import RetryableExportError

__all__ = ["MemoryLimiterProcessor", "read_available_memory_bytes", "read_rss_bytes"]

logger = logging.getLogger(__name__)

_MIB = 1 << 20
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def read_rss_bytes() -> int:
    """The resident set size of this process, from ``/proc/self/statm`` (Linux)."""
    fields = Path("/proc/self/statm").read_bytes().split()
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


def read_available_memory_bytes() -> int:
    """Memory this process may use: its cgroup's limit (v2 or v1) when lower, else physical."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in _CGROUP_LIMITS:
        with contextlib.suppress(OSError):
            text = Path(path).read_text(encoding="ascii").strip()
            if text.isdigit():  # "max" (v2) means no limit; v1 says so with a huge number
                return min(total, int(text))
    return total


class MemoryLimiterProcessor:
    """Passes data on while memory is below the soft limit; refuses it, retryably, above."""

    def __init__(
        self,
        config: MemoryLimiterProcessorConfig,
        *,
        id: ComponentID,
        next_consumer: Any,
        read_rss: Callable[[], int] = read_rss_bytes,
        read_available: Callable[[], int] = read_available_memory_bytes,
        collect_garbage: Callable[[], object] = gc.collect,
    ) -> None:
        self.config = config
        self.id = id
        self._next = next_consumer
        self._read_rss = read_rss
        self._read_available = read_available
        self._collect_garbage = collect_garbage
        self.refused = ProcessorCounters(id, "refused", "refused by a processor")
        self.hard_limit_bytes: int | None = None
        self.soft_limit_bytes: int | None = None
        self.rss_bytes = 0
        self.refusing = False
        self._task: asyncio.Task[None] | None = None

    async def start(self, host: Host) -> None:
        """Work out the limits, measure once, and start measuring every check_interval_s."""
        self.refused.bind(host)
        available = self._read_available() if self.config.uses_percentage else 0
        self.hard_limit_bytes, self.soft_limit_bytes = self.config.limits_bytes(available)
        try:
            self.check()
        except (OSError, ValueError, IndexError) as exc:
            raise OSError(f"{self.id}: cannot measure this process's memory: {exc}") from exc
        logger.info(
            "%s: hard limit %d MiB, soft limit %d MiB, now %d MiB",
            self.id,
            self.hard_limit_bytes // _MIB,
            self.soft_limit_bytes // _MIB,
            self.rss_bytes // _MIB,
        )
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def shutdown(self) -> None:
        """Stop measuring; safe before start and twice (the limiter holds no data)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def check(self) -> None:
        """Measure memory once and decide whether data is refused until the next check."""
        if self.hard_limit_bytes is None or self.soft_limit_bytes is None:
            return  # not started: no limits known yet
        rss = self._read_rss()
        if rss >= self.hard_limit_bytes:
            self._collect_garbage()
            rss = self._read_rss()
        refusing = rss >= self.soft_limit_bytes
        if refusing and not self.refusing:
            logger.warning(
                "%s: memory use %d MiB is above the soft limit %d MiB; refusing data",
                self.id,
                rss // _MIB,
                self.soft_limit_bytes // _MIB,
            )
        elif self.refusing and not refusing:
            logger.info("%s: memory use %d MiB is back within limits", self.id, rss // _MIB)
        self.rss_bytes, self.refusing = rss, refusing

    async def _watch(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.config.check_interval_s)
            try:
                self.check()
            except Exception:  # keep the last decision; say so once per run of failures
                if not failing:
                    logger.exception("%s: measuring memory failed", self.id)
                failing = True
            else:
                failing = False

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Pass ``request`` on, or raise RetryableExportError above the soft limit."""
        await self._consume(request)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Pass ``request`` on, or raise RetryableExportError above the soft limit."""
        await self._consume(request)

    async def consume_traces(self, request: ExportTraceServiceRequest) -> None:
        """Pass ``request`` on, or raise RetryableExportError above the soft limit."""
        await self._consume(request)

    async def _consume(self, request: Any) -> None:
        if self.refusing:
            self.refused.add(layout_of(request).units, count_items(request))
            raise RetryableExportError(
                f"{self.id}: the collector's memory use ({self.rss_bytes // _MIB} MiB) is above"
                f" its soft limit ({(self.soft_limit_bytes or 0) // _MIB} MiB); retry later",
                retry_after_s=self.config.check_interval_s,
            )
        await forward(self._next, request)
