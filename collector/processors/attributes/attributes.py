"""The ``attributes`` processor: edits attributes, and renames metrics.

``actions`` apply, in order, to the attributes of every data point, log record
and span (resource attributes are left alone: they are a run's identity). The
metric ``ml.step`` is never renamed: the store resolves every other point's step
through it. The processor edits its own copy of each request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableSequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from trainwire.anyvalue import set_any_value
from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.collector.processors._otlp import data_points, forward, layout_of
from trainwire.collector.processors.attributes.config import (
    AttributeAction,
    AttributesProcessorConfig,
)
from trainwire.semconv import METRIC_STEP

__all__ = ["AttributesProcessor"]


@dataclass(frozen=True)
class _Action:
    """An action ready to apply: its value already an AnyValue."""

    key: str
    action: str
    new_key: str
    value: AnyValue

    @classmethod
    def of(cls, action: AttributeAction) -> _Action:
        value = AnyValue()
        raw = str(action.value) if isinstance(action.value, str) else action.value
        set_any_value(value, raw)
        return cls(action.key, action.action, action.new_key, value)


def _set(attributes: MutableSequence[KeyValue], key: str, value: AnyValue) -> None:
    for attribute in attributes:
        if attribute.key == key:
            attribute.value.CopyFrom(value)
            return
    attributes.append(KeyValue(key=key, value=value))


def _delete(attributes: MutableSequence[KeyValue], key: str) -> AnyValue | None:
    """Remove every attribute named ``key``; return the first one's value."""
    found = None
    for index in reversed(range(len(attributes))):
        if attributes[index].key == key:
            found = AnyValue()
            found.CopyFrom(attributes[index].value)
            del attributes[index]
    return found


def _apply(attributes: MutableSequence[KeyValue], actions: list[_Action]) -> None:
    """Apply ``actions`` in order to one attribute list, in place."""
    for action in actions:
        if action.action in ("delete", "rename"):
            value = _delete(attributes, action.key)
            if action.action == "rename" and value is not None:
                _set(attributes, action.new_key, value)
            continue
        present = any(a.key == action.key for a in attributes)
        # upsert sets either way; update only a present key, insert only an absent one
        if action.action == "upsert" or present == (action.action == "update"):
            _set(attributes, action.key, action.value)


class AttributesProcessor:
    """Applies attribute actions and metric renames to a copy of each request."""

    def __init__(
        self, config: AttributesProcessorConfig, *, id: ComponentID, next_consumer: Any
    ) -> None:
        self.config = config
        self.id = id
        self._next = next_consumer
        self._actions = [_Action.of(a) for a in config.actions]
        self._renames = [(re.compile(r.pattern), r.replacement) for r in config.rename_metrics]

    async def start(self, host: Host) -> None:
        """Nothing to start."""

    async def shutdown(self) -> None:
        """Nothing to drain: the processor holds no data."""

    def rename(self, name: str) -> str:
        """The metric name after every rename, in order; ``ml.step`` stays as it is."""
        if name == METRIC_STEP:
            return name
        for pattern, replacement in self._renames:
            name = pattern.sub(replacement, name)
        return name

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Rename metrics and edit data point attributes, then pass the copy on."""
        await self._edit(request)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Edit log record attributes, then pass the copy on."""
        await self._edit(request)

    async def consume_traces(self, request: ExportTraceServiceRequest) -> None:
        """Edit span attributes, then pass the copy on."""
        await self._edit(request)

    async def _edit(self, request: Any) -> None:
        layout = layout_of(request)
        renames = self._renames and layout.signal is Signal.METRICS
        if not (self._actions or renames):
            await forward(self._next, request)
            return
        copy = type(request)()
        copy.CopyFrom(request)  # the receiver hands the same request to every pipeline
        for item in self._items(copy):
            if renames:
                item.name = self.rename(item.name)
            if not self._actions:
                continue
            for target in data_points(item) if layout.signal is Signal.METRICS else (item,):
                _apply(target.attributes, self._actions)
        await forward(self._next, copy)

    @staticmethod
    def _items(request: Any) -> Iterator[Any]:
        layout = layout_of(request)
        for resource in getattr(request, layout.resources):
            for scope in getattr(resource, layout.scopes):
                yield from getattr(scope, layout.items)
