"""Factory of the sqlite exporter: the store behind a persistent queue that pushes back."""

from __future__ import annotations

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.exporterhelper import QueuedExporter
from trainwire.exporters.sqlite.config import SqliteExporterConfig
from trainwire.exporters.sqlite.sqlite import SqliteExporter

__all__ = ["factory"]


def _create(config: SqliteExporterConfig, *, id: ComponentID) -> QueuedExporter:
    return QueuedExporter(
        SqliteExporter(config, id=id),
        id=id,
        queue=config.sending_queue,
        retry=config.retry_on_failure,
        blocks_ingestion=True,
    )


factory = Factory(
    type="sqlite",
    kind=Kind.EXPORTER,
    default_config=SqliteExporterConfig,
    create=_create,
    signals=frozenset({Signal.METRICS, Signal.LOGS, Signal.TRACES}),
)
