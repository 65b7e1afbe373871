"""The component model: what receivers, processors and exporters promise each other.

Modelled on the OpenTelemetry Collector. A component is created by its
:class:`Factory` from a validated, frozen config; ``start`` returns quickly and
hands long work to a task; ``shutdown`` is safe before ``start`` and safe twice,
stops accepting data and drains what it holds downstream before it returns.
Batches travel as the OTLP export requests themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.collector.telemetry import Telemetry

__all__ = [
    "Component",
    "ComponentID",
    "Factory",
    "Host",
    "Kind",
    "LogsConsumer",
    "MetricsConsumer",
    "Signal",
    "TracesConsumer",
]


class Kind(str, Enum):
    """The kinds of component, named as in the config file's top-level sections."""

    RECEIVER = "receivers"
    PROCESSOR = "processors"
    EXPORTER = "exporters"
    CONNECTOR = "connectors"
    EXTENSION = "extensions"


class Signal(str, Enum):
    """The telemetry signals a pipeline can carry."""

    METRICS = "metrics"
    LOGS = "logs"
    TRACES = "traces"


@dataclass(frozen=True, order=True)
class ComponentID:
    """``type[/name]``, e.g. ``sqlite`` or ``discord/alerts``."""

    type: str
    name: str = ""

    @classmethod
    def parse(cls, text: str) -> ComponentID:
        """Parse ``type[/name]``; raise ValueError when malformed."""
        type_, _, name = text.partition("/")
        if not type_ or (_ and not name) or not type_.replace("_", "").isalnum():
            raise ValueError(f"{text!r} is not a component id of the form type[/name]")
        return cls(type_, name)

    def __str__(self) -> str:
        return f"{self.type}/{self.name}" if self.name else self.type


@runtime_checkable
class Component(Protocol):
    """Anything with the Collector's lifecycle."""

    async def start(self, host: Host) -> None:
        """Begin work; return quickly and hand long work to a task."""

    async def shutdown(self) -> None:
        """Stop accepting data and drain downstream; safe before start and twice."""


@runtime_checkable
class MetricsConsumer(Protocol):
    """Takes OTLP metric export requests."""

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Consume one request; return only once it is handed on (or stored)."""


@runtime_checkable
class LogsConsumer(Protocol):
    """Takes OTLP log export requests."""

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Consume one request; return only once it is handed on (or stored)."""


@runtime_checkable
class TracesConsumer(Protocol):
    """Takes OTLP trace export requests."""

    async def consume_traces(self, request: ExportTraceServiceRequest) -> None:
        """Consume one request; return only once it is handed on (or stored)."""


class Host(Protocol):
    """What a running component may ask of the collector hosting it."""

    @property
    def telemetry(self) -> Telemetry:
        """The collector's own metrics (accepted, refused, exported, queue sizes, ...)."""

    def report_status(self, component: ComponentID, message: str) -> None:
        """Tell the host about a component's state (for logs and health)."""

    def get_extension(self, component: ComponentID) -> Component | None:
        """Return a started extension by id, or None."""


CreateFn = Callable[..., Any]


@dataclass(frozen=True)
class Factory:
    """Knows one component type: its default config and how to create it.

    ``create`` is called with the config and ``id=``; receivers and connectors also get
    ``next_consumers={Signal: consumer}`` and processors ``next_consumer=consumer``.
    ``signals`` are those the component consumes (a connector emits logs whatever
    it consumes, unless it says otherwise through ``emits``).
    """

    type: str
    kind: Kind
    default_config: Callable[[], Any]
    create: CreateFn
    signals: frozenset[Signal] = field(default=frozenset({Signal.METRICS, Signal.LOGS}))
    emits: frozenset[Signal] = field(default=frozenset({Signal.LOGS}))
    """For connectors: the signals of the pipelines it may feed."""
