"""The ``filter`` processor: drops metrics, log records and spans by name."""

from __future__ import annotations

from trainwire.collector.processors.filter.config import (
    FilterProcessorConfig,
    LogsFilterConfig,
    MetricsFilterConfig,
    TracesFilterConfig,
)
from trainwire.collector.processors.filter.factory import factory
from trainwire.collector.processors.filter.filter import FilterProcessor

__all__ = [
    "FilterProcessor",
    "FilterProcessorConfig",
    "LogsFilterConfig",
    "MetricsFilterConfig",
    "TracesFilterConfig",
    "factory",
]
