"""Factory of the sqlite exporter."""

from __future__ import annotations

from trainwire.collector.component import ComponentID, Factory, Kind
from trainwire.exporters.sqlite.config import SqliteExporterConfig
from trainwire.exporters.sqlite.sqlite import SqliteExporter

__all__ = ["factory"]


def _create(config: SqliteExporterConfig, *, id: ComponentID) -> SqliteExporter:
    return SqliteExporter(config, id=id)


factory = Factory(
    type="sqlite", kind=Kind.EXPORTER, default_config=SqliteExporterConfig, create=_create
)
