"""Factory of the ``filter`` processor."""

from __future__ import annotations

from typing import Any

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.processors.filter.config import FilterProcessorConfig
from trainwire.collector.processors.filter.filter import FilterProcessor

__all__ = ["factory"]


def _create(
    config: FilterProcessorConfig, *, id: ComponentID, next_consumer: Any
) -> FilterProcessor:
    return FilterProcessor(config, id=id, next_consumer=next_consumer)


factory = Factory(
    type="filter",
    kind=Kind.PROCESSOR,
    default_config=FilterProcessorConfig,
    create=_create,
    signals=frozenset({Signal.METRICS, Signal.LOGS, Signal.TRACES}),
)
