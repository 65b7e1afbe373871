"""The fast scrape writer produces exactly the bytes prometheus-client's exposition makes."""

from __future__ import annotations

import gzip
import urllib.request

import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.utils import floatToGoString

from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.exporters.prometheus.exposition import Exposition, _go
from trainwire.exporters.prometheus.render import StoreCollector

from .conftest import Harness, event, gauge, metrics_request, run_resource
from .test_exposition import _edge_cases

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def _everything(harness: Harness) -> None:
    """Every kind of series, label values that need escaping, a renamed run, target_info."""
    _edge_cases(harness)
    harness.send(event(run_resource(), semconv.EVENT_RUN_START, {"name": 'quote " and \\'}))
    request, metrics = metrics_request(run_resource())
    gauge(metrics, "loss", 0.125, note='line1\nline2 "x" \\ é')
    gauge(metrics, semconv.METRIC_STEP, 3.0)
    gauge(metrics, "huge", 1e300)
    gauge(metrics, "nan", float("nan"))
    hist = metrics.add(name="weights", description='help with "quotes"\nand \\').histogram
    hist.aggregation_temporality = CUMULATIVE
    hist.data_points.add(
        time_unix_nano=1,
        start_time_unix_nano=10**9,
        count=3,
        sum=-1.5,
        explicit_bounds=[-1, 0.5, 1e-9],
        bucket_counts=[1, 1, 0, 1],
    )
    summary = metrics.add(name="rpc.latency", unit="s").summary
    point = summary.data_points.add(time_unix_nano=1, count=10, sum=2.5)
    point.quantile_values.add(quantile=0.5, value=0.2)
    point.quantile_values.add(quantile=0.99, value=0.9)
    point.attributes.extend(to_attributes({"rpc.method": "Export"}))
    harness.send(request)


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
def test_fast_writer_matches_prometheus_client(harness: Harness, openmetrics: bool) -> None:
    """Same store, same bytes, in both formats; twice (the second from the label cache)."""
    _everything(harness)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(harness.exporter.store))
    expected = (generate_openmetrics if openmetrics else generate_latest)(registry)
    exposition = Exposition(harness.exporter.store)
    assert exposition.render(openmetrics=openmetrics) == expected
    assert exposition.render(openmetrics=openmetrics) == expected
    # What the HTTP endpoint serves is the same too.
    accept = "application/openmetrics-text; version=1.0.0" if openmetrics else ""
    assert harness.scrape(accept)[1].encode() == expected


def test_cached_labels_follow_a_rename(harness: Harness) -> None:
    """A renamed run's series are written with the new name even after a cached scrape."""
    harness.send(event(run_resource(), semconv.EVENT_RUN_START, {"name": "before"}))
    request, metrics = metrics_request(run_resource())
    gauge(metrics, "loss", 1.0)
    harness.send(request)
    assert 'run_name="before"' in harness.body()
    harness.send(event(run_resource(), semconv.EVENT_RUN_RENAME, {"name": "after"}))
    body = harness.body()
    assert 'run_name="after"' in body and "before" not in body


@pytest.mark.parametrize(
    "value",
    [
        0.0,
        -0.0,
        1.0,
        -1.5,
        0.1,
        1e-9,
        999999.9,
        1e6,
        1234567.0,
        1e16,
        1e300,
        -1e300,
        float("inf"),
        float("-inf"),
        float("nan"),
        5e-324,
        123456789.123,
    ],
)
def test_value_formatting_matches_prometheus_client(value: float) -> None:
    """Values are spelled as prometheus-client spells them (Go style for ±Inf, NaN, large)."""
    assert _go(value) == floatToGoString(value)


def test_gzip_when_asked_as_prometheus_does(harness: Harness) -> None:
    """Prometheus's own Accept and Accept-Encoding get gzipped OpenMetrics."""
    _everything(harness)
    accept = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{harness.exporter.port}/metrics",
        headers={"Accept": accept, "Accept-Encoding": "gzip"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        body = gzip.decompress(response.read())
    assert body == harness.scrape("application/openmetrics-text; version=1.0.0")[1].encode()
    assert body.endswith(b"# EOF\n")
