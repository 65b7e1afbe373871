"""The sqlite exporter: the run store, and its read side.

Names load on first use, so reading a store (``trainwire runs``, ``Client``) does not
import the collector that writing one needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainwire.exporters.sqlite.config import SqliteExporterConfig
    from trainwire.exporters.sqlite.factory import factory
    from trainwire.exporters.sqlite.reader import LatestValue, RunRecord, StoreReader
    from trainwire.exporters.sqlite.sqlite import SqliteExporter

__all__ = [
    "LatestValue",
    "RunRecord",
    "SqliteExporter",
    "SqliteExporterConfig",
    "StoreReader",
    "factory",
]

_HOMES = {
    "LatestValue": "reader",
    "RunRecord": "reader",
    "StoreReader": "reader",
    "SqliteExporterConfig": "config",
    "SqliteExporter": "sqlite",
    "factory": "factory",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
