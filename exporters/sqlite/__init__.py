"""The sqlite exporter: the run store, and its read side."""

from __future__ import annotations

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
