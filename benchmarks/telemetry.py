"""Live telemetry costs: how long the prometheus exporter takes to answer a scrape.

Sections (run all, or name some):
  scrape   GET /metrics of a started prometheus exporter holding --series live series
           (--runs trainwire runs, each with series/runs gauges carrying run labels),
           over loopback, in Prometheus text and in OpenMetrics; plus the cost of
           taking one SDK-shaped request (11 points) into the exporter. Every series
           gets a new value before each (timed) scrape, as while runs train.

Usage: python benchmarks/telemetry.py [scrape] [--series 10000] [--runs 100] [--repeat 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.collector.component import Component, ComponentID
from trainwire.collector.telemetry import Telemetry
from trainwire.exporters.prometheus import PrometheusExporter, PrometheusExporterConfig
from trainwire.exporters.prometheus.render import StoreCollector

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
SCRAPE_TARGET_MS = 50.0
PROMETHEUS_ACCEPT = (  # what Prometheus 2.x sends
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


class _Host:
    telemetry = Telemetry()

    def report_status(self, component: ComponentID, message: str) -> None:
        pass

    def get_extension(self, component: ComponentID) -> Component | None:
        return None


def _run_request(run: int, metrics: int, t: int) -> ExportMetricsServiceRequest:
    """What one ``run.log()`` of ``metrics`` scalars (plus ``ml.step``) of a run sends."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    resource = {
        semconv.SERVICE_NAME: "bench",
        semconv.SERVICE_INSTANCE_ID: f"run-{run:04d}/0",
        semconv.ML_RUN_ID: f"run-{run:04d}",
        semconv.ML_EXPERIMENT_NAME: "bench",
        semconv.ML_RUN_RANK: 0,
        semconv.HOST_NAME: f"node-{run % 8}",
    }
    rm.resource.attributes.extend(to_attributes(resource))
    sm = rm.scope_metrics.add()
    sm.scope.name = semconv.SCOPE_NAME
    for index in range(metrics - 1):
        point = sm.metrics.add(name=f"train/metric_{index:03d}").gauge.data_points.add()
        point.time_unix_nano, point.as_double = t, index * 0.5 + t
    step = sm.metrics.add(name=semconv.METRIC_STEP).gauge.data_points.add()
    step.time_unix_nano, step.as_int = t, t
    return request


def _timed_ms(
    work: Callable[[], Any], repeat: int, between: Callable[[], Any] = lambda: None
) -> tuple[float, float]:
    """Median and p90 wall milliseconds of one call (``between`` runs untimed before each)."""
    samples = []
    for _ in range(repeat):
        between()
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


def scrape(args: argparse.Namespace) -> None:
    """Scrape time with ``--series`` live series."""
    config = PrometheusExporterConfig(endpoint="127.0.0.1:0", max_series=args.series * 2)
    exporter = PrometheusExporter(config, id=ComponentID("prometheus"))
    asyncio.run(exporter.start(_Host()))
    per_run = args.series // args.runs
    requests = [_run_request(run, per_run, t=1) for run in range(args.runs)]

    async def ingest() -> None:
        for request in requests:
            await exporter.consume_metrics(request)

    def new_values() -> None:
        """Every series gets a new value between scrapes, as in training."""
        nonlocal requests
        t = int(time.time_ns())
        requests = [_run_request(run, per_run, t=t) for run in range(args.runs)]
        asyncio.run(ingest())

    start = time.perf_counter()
    asyncio.run(ingest())
    ingest_ms = (time.perf_counter() - start) * 1000
    url = f"http://127.0.0.1:{exporter.port}/metrics"
    sizes: dict[str, int] = {}

    def get(accept: str, encoding: str = "identity") -> Callable[[], None]:
        def once() -> None:
            headers = {"Accept": accept, "Accept-Encoding": encoding}
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=30) as response:
                sizes[accept] = len(response.read())

        return once

    get("")()  # warm-up
    text_p50, text_p90 = _timed_ms(get(""), args.repeat, new_values)
    om_p50, om_p90 = _timed_ms(get(OPENMETRICS), args.repeat, new_values)
    gz_p50, gz_p90 = _timed_ms(get(PROMETHEUS_ACCEPT, "gzip"), args.repeat, new_values)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(exporter.store))
    client_p50, _ = _timed_ms(lambda: generate_latest(registry), max(3, args.repeat // 10))
    one = _run_request(0, 11, t=2)
    take_p50, _ = _timed_ms(lambda: asyncio.run(exporter.consume_metrics(one)), args.repeat)
    asyncio.run(exporter.shutdown())
    print(f"scrape: {len(exporter.store)} live series ({args.runs} runs x {per_run} gauges)")
    print(f"  first ingest of all series: {ingest_ms:.0f} ms")
    print(
        f"  GET /metrics, Prometheus text: p50 {text_p50:.1f} ms, p90 {text_p90:.1f} ms"
        f" ({sizes[''] / 1e6:.2f} MB; target <= {SCRAPE_TARGET_MS:.0f} ms)"
    )
    print(
        f"  GET /metrics, OpenMetrics:     p50 {om_p50:.1f} ms, p90 {om_p90:.1f} ms"
        f" ({sizes[OPENMETRICS] / 1e6:.2f} MB)"
    )
    print(
        f"  GET /metrics as Prometheus asks (OpenMetrics, gzip): p50 {gz_p50:.1f} ms,"
        f" p90 {gz_p90:.1f} ms"
    )
    print(
        f"  reference: prometheus-client's generate_latest of the same series: {client_p50:.0f} ms"
    )
    print(f"  take one 11-point log() request (incl. asyncio.run): p50 {take_p50 * 1000:.0f} us")


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {"scrape": scrape}


def main(argv: list[str] | None = None) -> None:
    """Run the named sections (all when none is named)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)}")
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args(argv)
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; choose from {', '.join(SECTIONS)}")
    for name in args.sections or list(SECTIONS):
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
