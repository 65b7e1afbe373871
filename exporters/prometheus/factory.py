"""Factory of the ``prometheus`` exporter."""

from __future__ import annotations

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.exporters.prometheus.config import PrometheusExporterConfig
from trainwire.exporters.prometheus.prometheus import PrometheusExporter

__all__ = ["factory"]


def _create(config: PrometheusExporterConfig, *, id: ComponentID) -> PrometheusExporter:
    return PrometheusExporter(config, id=id)


factory = Factory(
    type="prometheus",
    kind=Kind.EXPORTER,
    default_config=PrometheusExporterConfig,
    create=_create,
    signals=frozenset({Signal.METRICS, Signal.LOGS}),
)
