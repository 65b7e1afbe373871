"""The storage extension: durable state and queue files for components."""

from __future__ import annotations

from trainwire.collector.extensions.storage.config import StorageConfig
from trainwire.collector.extensions.storage.factory import factory
from trainwire.collector.extensions.storage.storage import StorageClient, StorageExtension

__all__ = ["StorageClient", "StorageConfig", "StorageExtension", "factory"]
