"""Factory of the ``batch`` processor."""

from __future__ import annotations

from typing import Any

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.processors.batch.batch import BatchProcessor
from trainwire.collector.processors.batch.config import BatchProcessorConfig

__all__ = ["factory"]


def _create(config: BatchProcessorConfig, *, id: ComponentID, next_consumer: Any) -> BatchProcessor:
    return BatchProcessor(config, id=id, next_consumer=next_consumer)


factory = Factory(
    type="batch",
    kind=Kind.PROCESSOR,
    default_config=BatchProcessorConfig,
    create=_create,
    signals=frozenset({Signal.METRICS, Signal.LOGS, Signal.TRACES}),
)
