"""Queueing and retry for exporters: persistent queue, backoff, drop policy."""

from __future__ import annotations

from trainwire.collector.exporterhelper.config import QueueConfig, RetryConfig
from trainwire.collector.exporterhelper.queue import PersistentQueue, QueueFullError
from trainwire.collector.exporterhelper.queued import Pusher, QueuedExporter
from trainwire.collector.exporterhelper.requests import PROTECTED_EVENTS

__all__ = [
    "PROTECTED_EVENTS",
    "PersistentQueue",
    "Pusher",
    "QueueConfig",
    "QueueFullError",
    "QueuedExporter",
    "RetryConfig",
]
