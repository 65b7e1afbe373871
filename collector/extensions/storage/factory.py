"""Factory of the storage extension."""

from __future__ import annotations

from trainwire.collector.component import ComponentID, Factory, Kind
from trainwire.collector.extensions.storage.config import StorageConfig
from trainwire.collector.extensions.storage.storage import StorageExtension

__all__ = ["factory"]


def _create(config: StorageConfig, *, id: ComponentID) -> StorageExtension:
    return StorageExtension(config, id=id)


factory = Factory(
    type="storage",
    kind=Kind.EXTENSION,
    default_config=StorageConfig,
    create=_create,
    signals=frozenset(),
)
