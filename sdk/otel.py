"""Plain OpenTelemetry meters that land in a run: ``run.meter_provider()``.

Needs ``pip install 'trainwire[otel]'`` (opentelemetry-sdk). The provider's resource
is the run's own, and its exporter hands each export to the run's sender, so meter
data is spooled, retried and delivered exactly like ``run.log()`` data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainwire.errors import ConfigError
from trainwire.records import EncodedRequest
from trainwire.spool import SIGNAL_METRICS

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider

__all__ = ["make_meter_provider"]


def make_meter_provider(
    resource_attributes: dict[str, Any], put: Any, *, export_interval_s: float
) -> MeterProvider:
    """A MeterProvider with the run's resource whose exports go to ``put``."""
    try:
        from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import (
            MetricExporter,
            MetricExportResult,
            MetricsData,
            PeriodicExportingMetricReader,
        )
        from opentelemetry.sdk.resources import Resource
    except ImportError:
        raise ConfigError(
            "run.meter_provider() needs the OpenTelemetry SDK: pip install 'trainwire[otel]'"
        ) from None

    class RunMetricExporter(MetricExporter):
        """Encodes each export as OTLP and queues it on the run's sender."""

        def export(
            self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
        ) -> MetricExportResult:
            payload = encode_metrics(metrics_data).SerializeToString()
            put(EncodedRequest(SIGNAL_METRICS, payload))
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            return None

    reader = PeriodicExportingMetricReader(
        RunMetricExporter(), export_interval_millis=export_interval_s * 1000
    )
    # Resource(...) rather than Resource.create(...): exactly the run's attributes, so the
    # store files these series under the run (and the same rank).
    return MeterProvider(metric_readers=[reader], resource=Resource(resource_attributes))
