"""Plain OpenTelemetry meters, through the official Python SDK, land in the store."""

from __future__ import annotations

import json
import sqlite3

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from trainwire.testing import CollectorProcess


def test_counter_and_histogram_are_stored_with_their_resource(collector: CollectorProcess) -> None:
    """A Counter and a Histogram sent by opentelemetry-sdk are stored, attributed to their resource."""
    exporter = OTLPMetricExporter(endpoint=collector.endpoint, insecure=True)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": "data-loader", "deployment.environment": "test"})
    provider = MeterProvider(metric_readers=[reader], resource=resource)
    meter = provider.get_meter("loader", "1.2.3")
    batches = meter.create_counter("batches", unit="{batch}")
    latency = meter.create_histogram("batch.latency", unit="ms")
    for i in range(20):
        batches.add(1, {"split": "train" if i % 2 else "val"})
        latency.record(float(i))
    assert provider.force_flush(10_000)
    provider.shutdown()
    assert collector.stop() == 0

    conn = sqlite3.connect(collector.db_path)
    rows = conn.execute(
        "SELECT r.attributes, r.run_id, s.scope_name, s.scope_version, s.name, s.type, s.attributes,"
        " s.id FROM series s JOIN resources r ON r.id = s.resource_id ORDER BY s.name, s.attributes"
    ).fetchall()
    assert [(r[4], r[5], json.loads(r[6])) for r in rows] == [
        ("batch.latency", "histogram", {}),
        ("batches", "sum", {"split": "train"}),
        ("batches", "sum", {"split": "val"}),
    ]
    for resource_json, run_id, scope, version, *_ in rows:
        attributes = json.loads(resource_json)
        assert attributes["service.name"] == "data-loader"
        assert attributes["deployment.environment"] == "test"
        assert run_id is None and (scope, version) == ("loader", "1.2.3")
    counts = {
        json.loads(a)["split"]: v
        for a, v in conn.execute(
            "SELECT s.attributes, max(p.value) FROM points p JOIN series s ON s.id = p.series_id"
            " WHERE s.name = 'batches' GROUP BY s.id"
        )
    }
    assert counts == {"train": 10, "val": 10}
    count, total = conn.execute(
        "SELECT d.count, d.sum FROM distributions d JOIN series s ON s.id = d.series_id"
        " WHERE s.name = 'batch.latency' ORDER BY d.time DESC LIMIT 1"
    ).fetchone()
    assert (count, total) == (20, float(sum(range(20))))
