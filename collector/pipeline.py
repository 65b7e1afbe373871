"""Build and run the pipeline graph: receivers → processors → fan-out → exporters.

As in the Collector, exporters start first and receivers last, and shutdown
runs in reverse, so each stage always drains into a live consumer. One exporter
instance serves every pipeline that names it (the sqlite store has one writer);
processors are created per pipeline. A connector is created once: it is an
exporter of the pipelines that list it under ``exporters`` and feeds those that
list it under ``receivers``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.collector.component import Component, ComponentID, Kind, Signal
from trainwire.collector.config import CollectorConfig
from trainwire.collector.telemetry import Telemetry

__all__ = ["FanOut", "Graph", "GraphHost"]

logger = logging.getLogger(__name__)


class FanOut:
    """Hands each request to every consumer, concurrently; fails if any fails.

    Consumers flagged ``blocks_ingestion`` (the system of record) are called first,
    so that when one of them refuses, the others have not taken a copy.
    """

    def __init__(self, consumers: Sequence[Any]) -> None:
        self.consumers = list(consumers)

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Send ``request`` to every metrics consumer."""
        await self._all("consume_metrics", request)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Send ``request`` to every logs consumer."""
        await self._all("consume_logs", request)

    async def consume_traces(self, request: ExportTraceServiceRequest) -> None:
        """Send ``request`` to every traces consumer."""
        await self._all("consume_traces", request)

    async def _all(self, method: str, request: Any) -> None:
        first = [c for c in self.consumers if getattr(c, "blocks_ingestion", False)]
        rest = [c for c in self.consumers if not getattr(c, "blocks_ingestion", False)]
        for group in (first, rest):
            if len(group) == 1:
                await getattr(group[0], method)(request)
                continue
            results = await asyncio.gather(
                *(getattr(c, method)(request) for c in group), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result


class Graph:
    """The running components of one config, wired per pipeline."""

    def __init__(self, config: CollectorConfig, *, with_receivers: bool = True) -> None:
        self._config = config
        self.extensions: dict[ComponentID, Component] = {}
        self.exporters: dict[ComponentID, Component] = {}
        self.connectors: dict[ComponentID, Component] = {}
        self.processors: list[Component] = []
        self.receivers: dict[ComponentID, Component] = {}
        self._entries: dict[Signal, list[Any]] = {signal: [] for signal in Signal}
        self._started: list[Component] = []
        self._build(with_receivers)

    def entry(self, signal: Signal) -> FanOut:
        """Return a consumer feeding every pipeline of ``signal`` (the embedded SDK's door)."""
        return FanOut(self._entries[signal])

    def _create(self, kind: Kind, cid: ComponentID, **kwargs: Any) -> Any:
        factory = self._config.factories[kind][cid.type]
        return factory.create(self._config.components[kind][cid], id=cid, **kwargs)

    def _build(self, with_receivers: bool) -> None:
        pipelines = self._config.pipelines.values()
        connector_ids = set(self._config.components.get(Kind.CONNECTOR, {}))
        for cid in self._config.extensions:
            self.extensions[cid] = self._create(Kind.EXTENSION, cid)
        used = {cid for p in pipelines for cid in p.exporters if cid not in connector_ids}
        for cid in sorted(used):
            self.exporters[cid] = self._create(Kind.EXPORTER, cid)
        # Connectors feed pipelines that are built below: give them fan-outs filled in later.
        feeds: dict[ComponentID, dict[Signal, FanOut]] = {}
        for cid in sorted(connector_ids):
            if any(cid in p.exporters for p in pipelines):
                feeds[cid] = {signal: FanOut([]) for signal in Signal}
                self.connectors[cid] = self._create(Kind.CONNECTOR, cid, next_consumers=feeds[cid])
        for pipeline in pipelines:
            targets = [self.exporters.get(c) or self.connectors[c] for c in pipeline.exporters]
            consumer: Any = FanOut(targets)
            for cid in reversed(pipeline.processors):
                consumer = self._create(Kind.PROCESSOR, cid, next_consumer=consumer)
                self.processors.append(consumer)
            self._entries[pipeline.signal].append(consumer)
            for cid in pipeline.receivers:
                by_signal = feeds.setdefault(cid, {signal: FanOut([]) for signal in Signal})
                by_signal[pipeline.signal].consumers.append(consumer)
        if not with_receivers:
            return
        for cid, by_signal in sorted(feeds.items()):
            if cid in self.connectors:
                continue
            consumers = {s: f for s, f in by_signal.items() if f.consumers}
            self.receivers[cid] = self._create(Kind.RECEIVER, cid, next_consumers=consumers)

    async def start(self, host: Any) -> None:
        """Start extensions, exporters, connectors, processors, then receivers; undo on failure."""
        order: list[Component] = [
            *self.extensions.values(),
            *self.exporters.values(),
            *self.connectors.values(),
            *self.processors,
            *self.receivers.values(),
        ]
        for component in order:
            try:
                await component.start(host)
            except BaseException:
                await self.shutdown()
                raise
            self._started.append(component)

    async def shutdown(self) -> None:
        """Shut down in reverse start order; log (not raise) each component's failure."""
        while self._started:
            component = self._started.pop()
            try:
                await component.shutdown()
            except Exception:
                logger.exception("shutdown of %r failed", component)

    def components(self) -> Mapping[str, Component]:
        """Every component by a printable id, for health and diagnostics."""
        named: dict[str, Component] = {}
        for kind, group in (
            ("extension", self.extensions),
            ("receiver", self.receivers),
            ("connector", self.connectors),
            ("exporter", self.exporters),
        ):
            named.update({f"{kind} {cid}": c for cid, c in group.items()})
        return named


class GraphHost:
    """The Host that components of a graph see: status goes to the log."""

    def __init__(self, graph: Graph, telemetry: Telemetry | None = None) -> None:
        self._graph = graph
        self._telemetry = telemetry or Telemetry()

    @property
    def telemetry(self) -> Telemetry:
        """The collector's own metrics registry."""
        return self._telemetry

    def report_status(self, component: ComponentID, message: str) -> None:
        """Log a component's status report."""
        logger.info("%s: %s", component, message)

    def get_extension(self, component: ComponentID) -> Component | None:
        """Return a configured extension by id."""
        return self._graph.extensions.get(component)
