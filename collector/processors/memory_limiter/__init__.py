"""The ``memory_limiter`` processor: refuses data, retryably, while memory is too high."""

from __future__ import annotations

from trainwire.collector.processors.memory_limiter.config import MemoryLimiterProcessorConfig
from trainwire.collector.processors.memory_limiter.factory import factory
from trainwire.collector.processors.memory_limiter.memory_limiter import (
    MemoryLimiterProcessor,
    read_available_memory_bytes,
    read_rss_bytes,
)

__all__ = [
    "MemoryLimiterProcessor",
    "MemoryLimiterProcessorConfig",
    "factory",
    "read_available_memory_bytes",
    "read_rss_bytes",
]
