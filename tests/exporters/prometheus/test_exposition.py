"""Golden exposition: what Prometheus reads from /metrics, byte for byte."""

from __future__ import annotations

from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from trainwire.anyvalue import to_attributes

from .conftest import OPENMETRICS, Harness, gauge, metrics_request

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA


def _edge_cases(harness: Harness) -> None:
    """One plain-OTel resource with a metric of each naming edge case."""
    request, metrics = metrics_request(
        {
            "service.name": "api",
            "service.instance.id": "pod-7",
            "host.name": "node-1",
            "k8s.pod.uid": "u-1",
        },
        scope="shop.checkout",
        version="1.2.0",
    )
    gauge(metrics, "hw.gpu.utilization", 0.5, unit="1", **{"hw.id": "GPU-0"})
    gauge(metrics, "my-metric..name/x", 3.0)
    # `a.b` and `a_b` both become label `a_b`: values joined with `;` in key order.
    gauge(metrics, "collide", 1.0, **{"a_b": "second", "a.b": "first", "ml.step": 9})
    counter = metrics.add(name="http.requests", unit="{request}").sum
    counter.is_monotonic, counter.aggregation_temporality = True, CUMULATIVE
    point = counter.data_points.add(time_unix_nano=5, start_time_unix_nano=2_000_000_000, as_int=42)
    point.attributes.extend(to_attributes({"http.method": "GET"}))
    updown = metrics.add(name="queue.bytes_in_use", unit="By").sum
    updown.aggregation_temporality = CUMULATIVE
    updown.data_points.add(time_unix_nano=5, as_int=512)
    hist = metrics.add(name="http.server.duration", unit="ms").histogram
    hist.aggregation_temporality = CUMULATIVE
    hist.data_points.add(
        time_unix_nano=5,
        count=6,
        sum=123.5,
        explicit_bounds=[10, 100],
        bucket_counts=[1, 3, 2],
    )
    harness.send(request)


GOLDEN_TEXT = """\
# HELP collide collide
# TYPE collide gauge
collide{a_b="first;second",host_name="node-1",instance="pod-7",job="api",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 1.0
# HELP http_requests_total http.requests
# TYPE http_requests_total counter
http_requests_total{host_name="node-1",http_method="GET",instance="pod-7",job="api",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 42.0
# HELP http_requests_created http.requests
# TYPE http_requests_created gauge
http_requests_created{host_name="node-1",http_method="GET",instance="pod-7",job="api",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 2.0
# HELP http_server_duration_milliseconds http.server.duration
# TYPE http_server_duration_milliseconds histogram
http_server_duration_milliseconds_bucket{host_name="node-1",instance="pod-7",job="api",le="10.0",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 1.0
http_server_duration_milliseconds_bucket{host_name="node-1",instance="pod-7",job="api",le="100.0",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 4.0
http_server_duration_milliseconds_bucket{host_name="node-1",instance="pod-7",job="api",le="+Inf",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 6.0
http_server_duration_milliseconds_count{host_name="node-1",instance="pod-7",job="api",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 6.0
http_server_duration_milliseconds_sum{host_name="node-1",instance="pod-7",job="api",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 123.5
# HELP hw_gpu_utilization_ratio hw.gpu.utilization
# TYPE hw_gpu_utilization_ratio gauge
hw_gpu_utilization_ratio{host_name="node-1",hw_id="GPU-0",instance="pod-7",job="api",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 0.5
# HELP my_metric_name_x my-metric..name/x
# TYPE my_metric_name_x gauge
my_metric_name_x{host_name="node-1",instance="pod-7",job="api",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 3.0
# HELP queue_bytes_in_use queue.bytes_in_use
# TYPE queue_bytes_in_use gauge
queue_bytes_in_use{host_name="node-1",instance="pod-7",job="api",otel_scope_name="shop.checkout",otel_scope_version="1.2.0"} 512.0
# HELP target_info Target metadata
# TYPE target_info gauge
target_info{host_name="node-1",instance="pod-7",job="api",k8s_pod_uid="u-1"} 1.0
"""


def test_text_exposition_of_naming_edge_cases(harness: Harness) -> None:
    """Units become suffix words, sums `_total`, invalid characters `_`, colliding keys join with `;`."""
    _edge_cases(harness)
    content_type, body = harness.scrape()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert body == GOLDEN_TEXT


GOLDEN_OPENMETRICS = """\
# HELP hw_gpu_memory_usage_bytes Memory in use.
# TYPE hw_gpu_memory_usage_bytes gauge
# UNIT hw_gpu_memory_usage_bytes bytes
hw_gpu_memory_usage_bytes{host_name="node-1",hw_id="GPU-0",otel_scope_name="trainwire.nvml"} 1024.0
# HELP samples samples
# TYPE samples counter
samples_total{host_name="node-1",otel_scope_name="trainwire.nvml"} 3.0
# HELP target Target metadata
# TYPE target info
target_info{host_name="node-1"} 1.0
# EOF
"""


def test_openmetrics_when_asked_with_unit_metadata(harness: Harness) -> None:
    """An OpenMetrics Accept header gets OpenMetrics, with UNIT lines and the counter's family name."""
    request, metrics = metrics_request({"host.name": "node-1"}, scope="trainwire.nvml")
    usage = metrics.add(name="hw.gpu.memory.usage", unit="By", description="Memory in use.")
    usage.gauge.data_points.add(time_unix_nano=1, as_int=1024).attributes.extend(
        to_attributes({"hw.id": "GPU-0"})
    )
    samples = metrics.add(name="samples").sum
    samples.is_monotonic, samples.aggregation_temporality = True, CUMULATIVE
    samples.data_points.add(time_unix_nano=1, as_int=3)
    harness.send(request)
    content_type, body = harness.scrape(OPENMETRICS)
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert body == GOLDEN_OPENMETRICS


def test_delta_sums_and_histograms_are_accumulated(harness: Harness) -> None:
    """Delta points add up to the cumulative totals Prometheus expects."""
    for value in (2, 3):
        request, metrics = metrics_request({"service.name": "svc"}, scope="")
        total = metrics.add(name="tokens", unit="{token}").sum
        total.is_monotonic, total.aggregation_temporality = True, DELTA
        total.data_points.add(time_unix_nano=value, as_int=value)
        hist = metrics.add(name="latency", unit="s").histogram
        hist.aggregation_temporality = DELTA
        hist.data_points.add(
            time_unix_nano=value,
            count=value,
            sum=float(value),
            explicit_bounds=[1.0],
            bucket_counts=[1, value - 1],
        )
        harness.send(request)
    body = harness.body()
    assert 'tokens_total{job="svc"} 5.0' in body
    assert 'latency_seconds_bucket{job="svc",le="1.0"} 2.0' in body
    assert 'latency_seconds_bucket{job="svc",le="+Inf"} 5.0' in body
    assert 'latency_seconds_sum{job="svc"} 5.0' in body


def test_latest_point_wins_and_late_points_are_ignored(harness: Harness) -> None:
    """A gauge shows the value with the latest timestamp, whatever order points arrive in."""
    request, metrics = metrics_request({"service.name": "svc"}, scope="")
    gauge(metrics, "temp", 1.0, t=10)
    gauge(metrics, "temp", 2.0, t=30)
    gauge(metrics, "temp", 3.0, t=20)
    harness.send(request)
    assert 'temp{job="svc"} 2.0' in harness.body()


def test_exponential_histogram_becomes_explicit_buckets(harness: Harness) -> None:
    """An exponential histogram (scale 0: powers of two) is served as `le` buckets, exactly."""
    request, metrics = metrics_request({"service.name": "svc"}, scope="")
    exp = metrics.add(name="size", unit="By").exponential_histogram
    exp.aggregation_temporality = CUMULATIVE
    point = exp.data_points.add(time_unix_nano=1, count=4, sum=11.0, scale=0, zero_count=1)
    point.positive.offset = 1  # buckets (2, 4] and (4, 8]
    point.positive.bucket_counts.extend([2, 1])
    harness.send(request)
    body = harness.body()
    for le, count in (("0.0", 1), ("4.0", 3), ("8.0", 4), ("+Inf", 4)):
        assert f'size_bytes_bucket{{job="svc",le="{le}"}} {count}.0' in body


GOLDEN_UNITS_AND_ESCAPES = """\
# HELP cache_hit_ratio cache.hit.ratio
# TYPE cache_hit_ratio gauge
cache_hit_ratio{job="svc",path="C:\\\\dir \\"x\\"\\nnext"} 0.75
# HELP gc_time_seconds_total total.gc.time
# TYPE gc_time_seconds_total counter
gc_time_seconds_total{job="svc"} 1.5
# HELP http_requests_total http.requests.total
# TYPE http_requests_total counter
http_requests_total{job="svc"} 7.0
# HELP system_network_io_bytes_total system.network.io
# TYPE system_network_io_bytes_total counter
system_network_io_bytes_total{job="svc",network_io_direction="receive"} 4096.0
"""


def test_unit_comes_before_total_and_label_values_are_escaped(harness: Harness) -> None:
    """Counters read `<name>_<unit>_total` (never `_total_total`), a name holding its unit
    word gets none added, and backslash, quote and newline in label values are escaped."""
    request, metrics = metrics_request({"service.name": "svc"}, scope="")
    for name, unit, value, attributes in (
        ("system.network.io", "By", 4096, {"network.io.direction": "receive"}),
        ("http.requests.total", "{request}", 7, {}),
        ("total.gc.time", "s", 1.5, {}),
    ):
        counter = metrics.add(name=name, unit=unit).sum
        counter.is_monotonic, counter.aggregation_temporality = True, CUMULATIVE
        point = counter.data_points.add(time_unix_nano=1, as_double=value)
        point.attributes.extend(to_attributes(attributes))
    gauge(metrics, "cache.hit.ratio", 0.75, unit="1", path='C:\\dir "x"\nnext')
    harness.send(request)
    assert harness.body() == GOLDEN_UNITS_AND_ESCAPES
