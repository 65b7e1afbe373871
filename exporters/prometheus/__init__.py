"""The ``prometheus`` exporter: latest values on ``/metrics``, named by OpenTelemetry's rules.

Metric and label names follow the OpenTelemetry → Prometheus compatibility
specification; a trainwire run's series carry ``run_id``, ``run_name``,
``experiment`` and ``rank``; series of ended runs expire. Serving needs
prometheus-client (``pip install 'trainwire[prometheus]'``).
"""

from __future__ import annotations

from trainwire.exporters.prometheus.config import PrometheusExporterConfig
from trainwire.exporters.prometheus.factory import factory
from trainwire.exporters.prometheus.naming import label_name, metric_name, unit_words
from trainwire.exporters.prometheus.prometheus import PrometheusExporter
from trainwire.exporters.prometheus.series import SeriesStore

__all__ = [
    "PrometheusExporter",
    "PrometheusExporterConfig",
    "SeriesStore",
    "factory",
    "label_name",
    "metric_name",
    "unit_words",
]
