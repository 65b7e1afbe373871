"""What the scraping receivers (nvml, hostmetrics) share: building points and the loop.

A scraping receiver reads the machine every ``collection_interval_s`` in a worker
thread (the reads block) and hands one OTLP metrics request to its pipelines, like
the OTLP receiver does. A sample the pipeline refuses is dropped with a log line
rather than retried: the next collection carries fresher values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_CUMULATIVE, Metric

from trainwire.anyvalue import to_attributes
from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.collector.exporterhelper.requests import count_items
from trainwire.collector.telemetry import Counter
from trainwire.errors import PermanentExportError, RetryableExportError

__all__ = ["PointsBuilder", "ScrapingReceiver"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class PointsBuilder:
    """Gathers the points of one collection into one request with one Resource and scope."""

    def __init__(self, resource: Mapping[str, Any], scope: str, *, time_unix_nano: int) -> None:
        self.request = ExportMetricsServiceRequest()
        rm = self.request.resource_metrics.add()
        rm.resource.attributes.extend(to_attributes(resource))
        self._scope = rm.scope_metrics.add()
        self._scope.scope.name = scope
        self._metrics: dict[str, Metric] = {}
        self.time_unix_nano = time_unix_nano

    def _metric(self, name: str, unit: str) -> Metric:
        metric = self._metrics.get(name)
        if metric is None:
            metric = self._metrics[name] = self._scope.metrics.add(name=name, unit=unit)
        return metric

    def gauge(
        self, name: str, unit: str, value: float, attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Add a gauge point."""
        point = self._metric(name, unit).gauge.data_points.add(
            time_unix_nano=self.time_unix_nano, as_double=float(value)
        )
        if attributes:
            point.attributes.extend(to_attributes(attributes))

    def counter(
        self,
        name: str,
        unit: str,
        value: float,
        attributes: Mapping[str, Any] | None = None,
        *,
        start_time_unix_nano: int,
    ) -> None:
        """Add a point of a monotonic cumulative sum counted since ``start_time_unix_nano``."""
        metric = self._metric(name, unit)
        metric.sum.is_monotonic = True
        metric.sum.aggregation_temporality = AGGREGATION_TEMPORALITY_CUMULATIVE
        point = metric.sum.data_points.add(
            time_unix_nano=self.time_unix_nano,
            start_time_unix_nano=start_time_unix_nano,
            as_double=float(value),
        )
        if attributes:
            point.attributes.extend(to_attributes(attributes))

    @property
    def empty(self) -> bool:
        """No point was added."""
        return not self._metrics


class ScrapingReceiver:
    """Runs :meth:`collect` every ``interval_s`` off the event loop and emits what it gives.

    Subclasses implement ``open`` (blocking; False to stay idle), ``collect``
    (blocking; a request or None) and ``close`` (blocking).
    """

    def __init__(
        self, *, id: ComponentID, next_consumers: Mapping[Signal, Any], interval_s: float
    ) -> None:
        self.id = id
        self._next = next_consumers.get(Signal.METRICS)
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        # A cancelled collection's thread runs on; close() waits for it under this lock.
        self._reading = threading.Lock()
        self._opened = False
        self._accepted: Counter | None = None
        self._refused: Counter | None = None
        self._complained: set[str] = set()
        self.collections = 0
        """Collections emitted so far."""

    def open(self) -> bool:
        """Get ready to collect; False means nothing to collect here (stay idle)."""
        return True

    def collect(self) -> ExportMetricsServiceRequest | None:
        """Read the machine once."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``open`` took."""

    async def start(self, host: Host) -> None:
        """Open (in a thread) and start collecting; an idle receiver starts no task."""
        labels = ("receiver", "transport")
        self._accepted = host.telemetry.counter(
            "otelcol_receiver_accepted_metric_points",
            "Items (metric_points) the receiver handed to the pipeline.",
            labels,
        )
        self._refused = host.telemetry.counter(
            "otelcol_receiver_refused_metric_points",
            "Items (metric_points) the pipeline refused, for now or for good.",
            labels,
        )
        self._opened = await asyncio.to_thread(self.open)
        if self._opened:
            self._task = asyncio.create_task(self._loop(), name=f"collect {self.id}")

    async def shutdown(self) -> None:
        """Stop collecting and release the library; safe before start and twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._opened:
            self._opened = False
            await asyncio.to_thread(self._locked, self.close)

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                request = await asyncio.to_thread(self._locked, self.collect)
            except Exception:
                self._complain_once("collect", "%s receiver: a collection failed", exc_info=True)
                request = None
            if request is not None and request.resource_metrics:
                await self._emit(request)
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, self._interval_s - elapsed))

    def _locked(self, read: Callable[[], T]) -> T:
        with self._reading:
            return read()

    async def _emit(self, request: ExportMetricsServiceRequest) -> None:
        count = count_items(Signal.METRICS, request)
        labels = {"receiver": str(self.id), "transport": ""}
        if self._next is None:
            return
        try:
            await self._next.consume_metrics(request)
        except (PermanentExportError, RetryableExportError) as exc:
            self._add(self._refused, count, labels)
            self._complain_once(
                type(exc).__name__, "%s receiver: the pipeline refused a collection: %s", exc
            )
            return
        except Exception:
            self._add(self._refused, count, labels)
            self._complain_once(
                "emit", "%s receiver: the pipeline failed on a collection", exc_info=True
            )
            return
        self._add(self._accepted, count, labels)
        self.collections += 1

    @staticmethod
    def _add(counter: Counter | None, count: int, labels: dict[str, str]) -> None:
        if counter is not None:
            counter.add(count, **labels)

    def _complain_once(self, key: str, message: str, *args: Any, exc_info: bool = False) -> None:
        """Log a repeated problem once at warning, later ones at debug."""
        level = logging.DEBUG if key in self._complained else logging.WARNING
        self._complained.add(key)
        logger.log(level, message, self.id, *args, exc_info=exc_info)
