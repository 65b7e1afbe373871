"""Factory of the ``memory_limiter`` processor."""

from __future__ import annotations

from typing import Any

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.processors.memory_limiter.config import MemoryLimiterProcessorConfig
from trainwire.collector.processors.memory_limiter.memory_limiter import MemoryLimiterProcessor

__all__ = ["factory"]


def _create(
    config: MemoryLimiterProcessorConfig, *, id: ComponentID, next_consumer: Any
) -> MemoryLimiterProcessor:
    return MemoryLimiterProcessor(config, id=id, next_consumer=next_consumer)


factory = Factory(
    type="memory_limiter",
    kind=Kind.PROCESSOR,
    default_config=MemoryLimiterProcessorConfig,
    create=_create,
    signals=frozenset({Signal.METRICS, Signal.LOGS, Signal.TRACES}),
)
