"""Factories of the ``otlp`` and ``otlphttp`` exporters: a pusher behind a queue that never blocks.

Neither is the system of record, so a full queue drops the oldest progress
updates (counted) instead of refusing ingestion; run start/end, alerts and
artifact events are never dropped.
"""

from __future__ import annotations

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.exporterhelper import QueuedExporter
from trainwire.exporters.otlp.config import OtlpExporterConfig, OtlpHttpExporterConfig

__all__ = ["factory", "http_factory"]

_SIGNALS = frozenset({Signal.METRICS, Signal.LOGS, Signal.TRACES})


def _create(config: OtlpExporterConfig, *, id: ComponentID) -> QueuedExporter:
    from trainwire.exporters.otlp.otlp import OtlpExporter

    return QueuedExporter(
        OtlpExporter(config, id=id),
        id=id,
        queue=config.sending_queue,
        retry=config.retry_on_failure,
        blocks_ingestion=False,
    )


def _create_http(config: OtlpHttpExporterConfig, *, id: ComponentID) -> QueuedExporter:
    # aiohttp (the `server` extra) is imported only when an otlphttp exporter is configured.
    from trainwire.exporters.otlp.otlphttp import OtlpHttpExporter

    return QueuedExporter(
        OtlpHttpExporter(config, id=id),
        id=id,
        queue=config.sending_queue,
        retry=config.retry_on_failure,
        blocks_ingestion=False,
    )


factory = Factory(
    type="otlp",
    kind=Kind.EXPORTER,
    default_config=OtlpExporterConfig,
    create=_create,
    signals=_SIGNALS,
)

http_factory = Factory(
    type="otlphttp",
    kind=Kind.EXPORTER,
    default_config=OtlpHttpExporterConfig,
    create=_create_http,
    signals=_SIGNALS,
)
