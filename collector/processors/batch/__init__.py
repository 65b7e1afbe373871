"""The ``batch`` processor: merges concurrent requests, acknowledging none early."""

from __future__ import annotations

from trainwire.collector.processors.batch.batch import BatchProcessor
from trainwire.collector.processors.batch.config import BatchProcessorConfig
from trainwire.collector.processors.batch.factory import factory

__all__ = ["BatchProcessor", "BatchProcessorConfig", "factory"]
