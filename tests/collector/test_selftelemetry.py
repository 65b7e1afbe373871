"""The collector's own metrics on its Prometheus endpoint: golden exposition and a real scrape."""

from __future__ import annotations

import re
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import trainwire
from trainwire.collector.selftelemetry import ProcessStats, TelemetryServer
from trainwire.collector.selftelemetry.prometheus import TelemetryCollector
from trainwire.collector.telemetry import Telemetry
from trainwire.errors import ConfigError
from trainwire.testing import CollectorProcess, wait_for

GOLDEN = """\
# HELP otelcol_exporter_sent_metric_points_total Items delivered by the exporter.
# TYPE otelcol_exporter_sent_metric_points_total counter
otelcol_exporter_sent_metric_points_total{exporter="sqlite"} 3.0
otelcol_exporter_sent_metric_points_total{exporter="otlp/gateway"} 5.0
# HELP otelcol_exporter_queue_size Requests in the exporter queue.
# TYPE otelcol_exporter_queue_size gauge
otelcol_exporter_queue_size{exporter="sqlite"} 2.0
# HELP otelcol_process_uptime Uptime of the collector process, in seconds.
# TYPE otelcol_process_uptime gauge
otelcol_process_uptime 12.5
# HELP otelcol_process_memory_rss Resident memory of the collector process, in bytes.
# TYPE otelcol_process_memory_rss gauge
otelcol_process_memory_rss 1.024e+06
"""


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _process(tmp_path: Path, clock: Clock) -> ProcessStats:
    """Process stats reading a fake statm with 250 resident pages of 4 KiB."""
    statm = tmp_path / "statm"
    statm.write_text("1000 250 100 10 0 500 0\n")
    return ProcessStats(clock=clock, statm_path=statm, page_size=4096)


def test_exposition_matches_golden_text(tmp_path: Path) -> None:
    """Counters gain _total, gauges (set or read at scrape) keep their names, process families follow."""
    telemetry = Telemetry()
    sent = telemetry.counter(
        "otelcol_exporter_sent_metric_points", "Items delivered by the exporter.", ("exporter",)
    )
    sent.add(3, exporter="sqlite")
    sent.add(5, exporter="otlp/gateway")
    telemetry.gauge(
        "otelcol_exporter_queue_size", "Requests in the exporter queue.", ("exporter",)
    ).set_function(lambda: 2, exporter="sqlite")
    clock = Clock()
    process = _process(tmp_path, clock)
    clock.now += 12.5
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TelemetryCollector(telemetry, process))

    assert generate_latest(registry).decode() == GOLDEN


def test_rss_is_left_out_where_statm_cannot_be_read(tmp_path: Path) -> None:
    """Without a readable statm (not Linux) the RSS family is omitted, not reported as zero."""
    process = ProcessStats(statm_path=tmp_path / "missing")
    assert process.rss_bytes() is None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TelemetryCollector(Telemetry(), process))
    assert b"otelcol_process_memory_rss" not in generate_latest(registry)


def test_server_serves_on_a_free_port_and_stops_twice(tmp_path: Path) -> None:
    """The endpoint serves the registry over HTTP on port 0's pick and stops cleanly, twice."""
    telemetry = Telemetry()
    telemetry.counter("otelcol_receiver_accepted_metric_points", "Accepted.", ("receiver",)).add(
        7, receiver="otlp"
    )
    server = TelemetryServer("127.0.0.1:0", telemetry, process=_process(tmp_path, Clock()))
    server.stop()  # safe before start
    server.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            text = r.read().decode()
    finally:
        server.stop()
        server.stop()
    assert 'otelcol_receiver_accepted_metric_points_total{receiver="otlp"} 7.0' in text


def test_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without prometheus-client, starting the endpoint says to install trainwire[prometheus]."""
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # makes the import fail
    server = TelemetryServer("127.0.0.1:0", Telemetry())
    with pytest.raises(ConfigError, match=r"pip install 'trainwire\[prometheus\]'"):
        server.start()


TELEMETRY_CONFIG = """\
receivers:
  otlp:
    protocols: {{grpc: {{endpoint: "127.0.0.1:0"}}}}
exporters:
  sqlite:
    path: {db_path}
    sending_queue: {{storage: storage}}
extensions:
  storage: {{directory: {data_dir}}}
service:
  extensions: [storage]
  pipelines:
    metrics: {{receivers: [otlp], exporters: [sqlite]}}
    logs: {{receivers: [otlp], exporters: [sqlite]}}
  telemetry:
    metrics: {{address: "127.0.0.1:0"}}
"""


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_collector_reports_exported_points_queue_and_process(tmp_path: Path) -> None:
    """After an SDK run, a scrape shows the points sqlite stored, its empty queue, and the process gauges."""
    with CollectorProcess(tmp_path, config=TELEMETRY_CONFIG) as collector:
        found = re.search(
            r"telemetry: prometheus listening on 127\.0\.0\.1:(\d+)", "".join(collector.output)
        )
        assert found, collector.output
        port = int(found.group(1))
        run = trainwire.init(name="scraped", endpoint=collector.endpoint, system_metrics=False)
        for step in range(10):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 10}, step=step)
        run.finish()
        sqlite = (("exporter", "sqlite"),)
        sent = ("otelcol_exporter_sent_metric_points_total", sqlite)
        # 10 calls × (loss, acc and the ml.step point)
        assert wait_for(lambda: _scrape(port).get(sent) == 30.0, timeout_s=10), _scrape(port)
        # Counted as sent when stored; the queue lets go of the request just after.
        queue = ("otelcol_exporter_queue_size", sqlite)
        assert wait_for(lambda: _scrape(port).get(queue) == 0.0, timeout_s=10), _scrape(port)
        samples = _scrape(port)
        assert samples[("otelcol_exporter_queue_capacity", sqlite)] == 1000.0
        accepted = [
            value
            for (name, labels), value in samples.items()
            if name == "otelcol_receiver_accepted_metric_points_total"
            and ("receiver", "otlp") in labels
        ]
        assert sum(accepted) == 30.0
        assert 0 < samples[("otelcol_process_uptime", ())] < 600
        assert samples[("otelcol_process_memory_rss", ())] > 10 * 2**20
