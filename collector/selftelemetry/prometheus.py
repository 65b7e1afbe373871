"""Expose the collector's telemetry registry as Prometheus metric families.

Imported only when ``service::telemetry::metrics::address`` is set, so the
collector runs without prometheus-client otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from trainwire.collector.selftelemetry.process import ProcessStats
from trainwire.collector.telemetry import Telemetry

__all__ = ["TelemetryCollector"]


class TelemetryCollector(Collector):
    """A prometheus-client collector reading :meth:`Telemetry.collect` at each scrape.

    Counters come out with ``_total`` (``otelcol_exporter_sent_metric_points_total``),
    as prometheus-client and current Collector versions write them; the process
    families ``otelcol_process_uptime`` (seconds) and ``otelcol_process_memory_rss``
    (bytes) are added.
    """

    def __init__(self, telemetry: Telemetry, process: ProcessStats) -> None:
        self._telemetry = telemetry
        self._process = process

    def collect(self) -> Iterator[Metric]:
        """Every family of the registry, then the process families."""
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
        for sample in self._telemetry.collect():
            family = families.get(sample.name)
            if family is None:
                kind = CounterMetricFamily if sample.kind == "counter" else GaugeMetricFamily
                family = families[sample.name] = kind(
                    sample.name, sample.description, labels=list(sample.labels)
                )
            family.add_metric(list(sample.labels.values()), sample.value)
        yield from families.values()
        yield GaugeMetricFamily(
            "otelcol_process_uptime",
            "Uptime of the collector process, in seconds.",
            value=self._process.uptime_s(),
        )
        rss = self._process.rss_bytes()
        if rss is not None:
            yield GaugeMetricFamily(
                "otelcol_process_memory_rss",
                "Resident memory of the collector process, in bytes.",
                value=rss,
            )
