"""Acceptance: a real Prometheus scrapes a real collector fed by the trainwire and OTel SDKs.

The collector runs the prometheus exporter beside the store, the hostmetrics receiver
and the nvml receiver with its fake NVML library (two H100s; no GPU here). Prometheus
scrapes the exporter and the collector's own metrics every second; the tests poll its
query API.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

import trainwire
from trainwire.testing import CollectorProcess, free_port, wait_for

from .prometheus_server import PrometheusServer

BINARY = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="needs the prometheus binary: apt-get install -y prometheus (.ci/run installs it)",
)

COLLECTOR_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
  hostmetrics:
    collection_interval_s: 1
  nvml:
    collection_interval_s: 1
    library: trainwire.collector.receivers.nvml.fake
exporters:
  sqlite:
    path: {db_path}
    sending_queue:
      storage: storage
  prometheus:
    endpoint: 127.0.0.1:{exporter_port}
extensions:
  storage:
    directory: {data_dir}
service:
  extensions: [storage]
  pipelines:
    metrics:
      receivers: [otlp, hostmetrics, nvml]
      exporters: [sqlite, prometheus]
    logs:
      receivers: [otlp]
      exporters: [sqlite, prometheus]
  telemetry:
    metrics:
      address: 127.0.0.1:{telemetry_port}
"""
POLL_S = 60.0
DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "trainwire-dashboard.json"


@dataclass
class Stack:
    collector: CollectorProcess
    prometheus: PrometheusServer
    run_id: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Collector + Prometheus, a trainwire run that logged 5 steps, an OTel SDK histogram."""
    assert BINARY is not None
    root = tmp_path_factory.mktemp("acceptance")
    exporter_port, telemetry_port = free_port(), free_port()
    directory = root / "collector"
    directory.mkdir()
    (directory / "otel-config.yaml").write_text(
        COLLECTOR_CONFIG.format(
            db_path=directory / "collector.db",
            data_dir=directory / "data",
            exporter_port=exporter_port,
            telemetry_port=telemetry_port,
        )
    )
    with CollectorProcess(directory) as collector, pytest.MonkeyPatch.context() as env:
        prometheus = PrometheusServer(
            BINARY, root / "prometheus", {"trainwire": exporter_port, "otelcol": telemetry_port}
        )
        try:
            env.setenv("TRAINWIRE_DIR", str(root / "runs"))
            run = trainwire.init(
                name="acceptance-run",
                experiment="mnist",
                endpoint=collector.endpoint,
                capture_git=False,
                capture_pip=False,
                capture_console=False,
                system_metrics=False,
            )
            for step in range(1, 6):
                run.log({"loss": 1.0 / step, "accuracy": step / 10}, step=step)
            assert run.flush(30)
            provider = _otel_histogram(collector.endpoint)
            yield Stack(collector, prometheus, run.id)
            provider.shutdown()
            run.finish()
        finally:
            prometheus.stop()


def _otel_histogram(endpoint: str) -> MeterProvider:
    """The official OpenTelemetry SDK records 1..100 ms in a histogram and exports it."""
    resource = Resource.create(
        {
            "service.name": "checkout",
            "service.instance.id": "pod-1",
            "deployment.environment": "test",
        }
    )
    exporter = OTLPMetricExporter(endpoint=f"http://{endpoint}", insecure=True)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=1000)
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    histogram = provider.get_meter("shop.checkout", "1.2.0").create_histogram(
        "http.server.duration", unit="ms"
    )
    for value in range(1, 101):
        histogram.record(value, {"http.route": "/pay"})
    assert provider.force_flush(30_000)
    return provider


def _poll(prometheus: PrometheusServer, expr: str) -> list[dict[str, object]]:
    """The result of ``expr`` once it has any series (or the empty result at the deadline)."""
    found: list[dict[str, object]] = []

    def ready() -> bool:
        found[:] = prometheus.query(expr)
        return bool(found)

    wait_for(ready, timeout_s=POLL_S, interval_s=0.25)
    return found


def test_prometheus_has_the_runs_latest_loss_with_run_labels(stack: Stack) -> None:
    """Prometheus answers the run's latest loss (step 5) with run_id, run_name, experiment, rank."""
    expr = f'loss{{run_id="{stack.run_id}", run_name="acceptance-run"}}'
    assert wait_for(lambda: stack.prometheus.query(expr), timeout_s=POLL_S, interval_s=0.25)
    assert wait_for(
        lambda: stack.prometheus.query(f"{expr} == 0.2"), timeout_s=POLL_S, interval_s=0.25
    ), stack.prometheus.query(expr)
    (series,) = stack.prometheus.query(expr)
    labels = series["metric"]
    assert labels["experiment"] == "mnist" and labels["rank"] == "0"
    assert labels["instance"] == f"{stack.run_id}/0" and labels["job"] == "mnist"
    assert not {"step", "ml_step"} & labels.keys()
    (step,) = _poll(stack.prometheus, f'ml_step{{run_id="{stack.run_id}"}}')
    assert step["value"][1] == "5"


def test_a_quantile_over_an_otel_sdk_histogram(stack: Stack) -> None:
    """histogram_quantile over the OTel SDK's buckets gives the median of 1..100 ms."""
    expr = (
        "histogram_quantile(0.5, sum by (le) "
        '(http_server_duration_milliseconds_bucket{job="checkout", http_route="/pay"}))'
    )
    (result,) = _poll(stack.prometheus, expr)
    assert math.isclose(float(result["value"][1]), 50.0)
    (count,) = _poll(stack.prometheus, 'http_server_duration_milliseconds_count{job="checkout"}')
    assert count["value"][1] == "100"
    assert count["metric"]["otel_scope_name"] == "shop.checkout"


def test_target_info_carries_the_resource(stack: Stack) -> None:
    """target_info has the OTel SDK resource's attributes, with job and instance."""
    (info,) = _poll(stack.prometheus, 'target_info{job="checkout"}')
    labels = info["metric"]
    assert labels["instance"] == "pod-1"
    assert labels["deployment_environment"] == "test"
    assert labels["telemetry_sdk_language"] == "python"
    assert "service_name" not in labels
    (run_info,) = _poll(stack.prometheus, f'target_info{{ml_run_id="{stack.run_id}"}}')
    assert run_info["metric"]["ml_experiment_name"] == "mnist"


def _regex_escape(value: str) -> str:
    """A value inside a PromQL regex string, as Grafana formats multi-value variables."""
    return re.sub(r"([.+*?()|\[\]{}^$\\])", r"\\\\\1", value)


def _substitute(text: str, values: dict[str, str]) -> str:
    text = text.replace("$__rate_interval", "1m").replace("${__rate_interval}", "1m")
    for name, value in values.items():
        text = text.replace("${" + name + "}", value).replace("$" + name, value)
    return text


def _variable_values(prometheus: PrometheusServer, query: str) -> list[str]:
    """What Grafana lists for a Prometheus query variable (label_values, query_result)."""
    if match := re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip()):
        return prometheus.label_values(match.group(2), match.group(1))
    if match := re.fullmatch(r"query_result\((.*)\)", query.strip()):
        rows = []
        for series in prometheus.query(match.group(1)):
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(series["metric"].items()))
            rows.append(f"{{{labels}}} {series['value'][1]} {series['value'][0]}")
        return rows
    raise AssertionError(f"variable query the test cannot resolve: {query}")


def _apply_regex(values: list[str], regex: str) -> list[str]:
    """Grafana's variable regex: keep matches; a ``value`` group (or the first group) is the value."""
    if not regex:
        return values
    pattern = re.compile(regex.strip("/").replace("(?<", "(?P<"))
    kept = []
    for text in values:
        match = pattern.search(text)
        if match is None:
            continue
        if "value" in pattern.groupindex:
            kept.append(match.group("value"))
        else:
            kept.append(match.group(1) if pattern.groups else text)
    return kept


def _listed(prometheus: PrometheusServer, query: str, regex: str) -> list[str]:
    """A variable's values once it lists any (or none at the deadline)."""
    found: list[str] = []

    def listed() -> bool:
        found[:] = _apply_regex(_variable_values(prometheus, query), regex)
        return bool(found)

    wait_for(listed, timeout_s=POLL_S, interval_s=0.25)
    return found


def _resolve_variables(prometheus: PrometheusServer, dashboard: dict[str, Any]) -> dict[str, str]:
    """Each query variable set to All of its values (``(a|b)``), in dashboard order."""
    values: dict[str, str] = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = _substitute(variable["query"]["query"], values)
        found = _listed(prometheus, query, variable["regex"])
        assert found, f"dashboard variable ${variable['name']} lists nothing: {query}"
        values[variable["name"]] = "(" + "|".join(_regex_escape(v) for v in found) + ")"
    return values


def test_every_dashboard_panel_returns_data(stack: Stack) -> None:
    """Each panel's PromQL, with the template variables set, returns series from Prometheus."""
    dashboard = json.loads(DASHBOARD.read_text())
    values = _resolve_variables(stack.prometheus, dashboard)
    assert stack.run_id in values["run"] and "loss" in values["metric"]
    assert "ml_step" not in values["metric"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 15
    empty = []
    for panel in panels:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            expr = _substitute(target["expr"], values)
            assert "$" not in expr, f"unresolved variable in {panel['title']!r}: {expr}"
            if not _poll(stack.prometheus, expr):
                empty.append(f"{panel['title']}: {expr}")
    assert empty == [], "panels without data:\n" + "\n".join(empty)
