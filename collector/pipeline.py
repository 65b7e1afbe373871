"""Build and run the pipeline graph: receivers → processors → fan-out → exporters.

As in the Collector, exporters start first and receivers last, and shutdown
runs in reverse, so each stage always drains into a live consumer. One exporter
instance serves every pipeline that names it (the sqlite store has one writer);
processors are created per pipeline.
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

from trainwire.collector.component import Component, ComponentID, Host, Kind, Signal
from trainwire.collector.config import CollectorConfig

__all__ = ["FanOut", "Graph", "GraphHost"]

logger = logging.getLogger(__name__)


class FanOut:
    """Hands each request to every consumer, concurrently; fails if any fails."""

    def __init__(self, consumers: Sequence[Any]) -> None:
        self._consumers = list(consumers)

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Send ``request`` to every metrics consumer."""
        await self._all([c.consume_metrics(request) for c in self._consumers])

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Send ``request`` to every logs consumer."""
        await self._all([c.consume_logs(request) for c in self._consumers])

    @staticmethod
    async def _all(calls: list[Any]) -> None:
        if len(calls) == 1:
            await calls[0]
            return
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


class Graph:
    """The running components of one config, wired per pipeline."""

    def __init__(self, config: CollectorConfig, *, with_receivers: bool = True) -> None:
        self._config = config
        self.extensions: dict[ComponentID, Component] = {}
        self.exporters: dict[ComponentID, Component] = {}
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
        used = {cid for p in self._config.pipelines.values() for cid in p.exporters}
        for cid in sorted(used):
            self.exporters[cid] = self._create(Kind.EXPORTER, cid)
        for cid in self._config.extensions:
            self.extensions[cid] = self._create(Kind.EXTENSION, cid)
        feeds: dict[ComponentID, dict[Signal, list[Any]]] = {}
        for pipeline in self._config.pipelines.values():
            consumer: Any = FanOut([self.exporters[cid] for cid in pipeline.exporters])
            for cid in reversed(pipeline.processors):
                consumer = self._create(Kind.PROCESSOR, cid, next_consumer=consumer)
                self.processors.append(consumer)
            self._entries[pipeline.signal].append(consumer)
            for cid in pipeline.receivers:
                feeds.setdefault(cid, {}).setdefault(pipeline.signal, []).append(consumer)
        if not with_receivers:
            return
        for cid, by_signal in sorted(feeds.items()):
            consumers = {signal: FanOut(targets) for signal, targets in by_signal.items()}
            self.receivers[cid] = self._create(Kind.RECEIVER, cid, next_consumers=consumers)

    async def start(self, host: Host) -> None:
        """Start extensions, exporters, processors, then receivers; undo on failure."""
        order: list[Component] = [
            *self.extensions.values(),
            *self.exporters.values(),
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
        for kind, group in (("receiver", self.receivers), ("exporter", self.exporters)):
            named.update({f"{kind} {cid}": c for cid, c in group.items()})
        return named


class GraphHost:
    """The Host that components of a graph see: status goes to the log."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    def report_status(self, component: ComponentID, message: str) -> None:
        """Log a component's status report."""
        logger.info("%s: %s", component, message)

    def get_extension(self, component: ComponentID) -> Component | None:
        """Return a configured extension by id."""
        return self._graph.extensions.get(component)
