"""Factory of the ``discord`` exporter: a pusher behind a queue that never blocks ingestion.

Discord is not the system of record: a full queue drops the oldest progress
(metrics) requests, counted, and never run start/end, alert or artifact events.
"""

from __future__ import annotations

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.exporterhelper import QueuedExporter
from trainwire.exporters.discord.config import DiscordExporterConfig

__all__ = ["factory"]


def _create(config: DiscordExporterConfig, *, id: ComponentID) -> QueuedExporter:
    # requests (the `discord` extra) is imported only when a discord exporter starts.
    from trainwire.exporters.discord.discord import DiscordExporter

    return QueuedExporter(
        DiscordExporter(config, id=id),
        id=id,
        queue=config.sending_queue,
        retry=config.retry_on_failure,
        blocks_ingestion=False,
    )


factory = Factory(
    type="discord",
    kind=Kind.EXPORTER,
    default_config=DiscordExporterConfig,
    create=_create,
    signals=frozenset({Signal.METRICS, Signal.LOGS}),
)
