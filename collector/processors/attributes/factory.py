"""Factory of the ``attributes`` processor."""

from __future__ import annotations

from typing import Any

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.processors.attributes.attributes import AttributesProcessor
from trainwire.collector.processors.attributes.config import AttributesProcessorConfig

__all__ = ["factory"]


def _create(
    config: AttributesProcessorConfig, *, id: ComponentID, next_consumer: Any
) -> AttributesProcessor:
    return AttributesProcessor(config, id=id, next_consumer=next_consumer)


factory = Factory(
    type="attributes",
    kind=Kind.PROCESSOR,
    default_config=AttributesProcessorConfig,
    create=_create,
    signals=frozenset({Signal.METRICS, Signal.LOGS, Signal.TRACES}),
)
