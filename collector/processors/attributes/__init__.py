"""The ``attributes`` processor: edits attributes and renames metrics."""

from __future__ import annotations

from trainwire.collector.processors.attributes.attributes import AttributesProcessor
from trainwire.collector.processors.attributes.config import (
    AttributeAction,
    AttributesProcessorConfig,
    MetricRename,
)
from trainwire.collector.processors.attributes.factory import factory

__all__ = [
    "AttributeAction",
    "AttributesProcessor",
    "AttributesProcessorConfig",
    "MetricRename",
    "factory",
]
