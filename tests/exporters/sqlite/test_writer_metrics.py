"""Metric points in the run store: identity, de-duplication, steps, odd values, distributions."""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.exporters.sqlite import StoreReader
from trainwire.exporters.sqlite.writer import StoreWriter


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _histogram_request(
    resource: Resource, scope: str, name: str, time: int, **fields: Any
) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.CopyFrom(resource)
    sm = rm.scope_metrics.add()
    sm.scope.name = scope
    histogram = sm.metrics.add(name=name, unit="1").histogram
    histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    histogram.data_points.add(time_unix_nano=time, **fields)
    return request


def test_resent_metrics_request_is_stored_once(
    conn: sqlite3.Connection, writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """Writing the same metrics request bytes twice leaves exactly one copy of each point."""
    t = wire.T0
    request = wire.log(
        wire.resource(), (t, 1, {"loss": 0.5, "acc": 0.1}), (t + 1, 2, {"loss": 0.4})
    )
    again = ExportMetricsServiceRequest.FromString(request.SerializeToString())

    writer.write_metrics(request)
    writer.write_metrics(again)

    assert _count(conn, "points") == 3
    assert _count(conn, "steps") == 2
    assert _count(conn, "series") == 2
    assert _count(conn, "resources") == 1
    assert reader.points("a1b2c3d4e5f6", "loss") == [(1, t, 0.5), (2, t + 1, 0.4)]
    assert reader.points("a1b2c3d4e5f6", "acc") == [(1, t, 0.1)]


def test_resent_metrics_request_is_stored_once_by_a_fresh_writer(
    conn: sqlite3.Connection, store_path: Any, wire: Any
) -> None:
    """A re-send that reaches a new writer (a restarted collector) still adds no rows."""
    request = wire.log(wire.resource(), (wire.T0, 3, {"loss": 0.5}))
    StoreWriter(conn).write_metrics(request)
    StoreWriter(conn).write_metrics(request)

    assert _count(conn, "points") == 1
    assert _count(conn, "series") == 1
    assert _count(conn, "resources") == 1
    assert _count(conn, "runs") == 1


def test_write_metrics_returns_the_number_of_new_points(writer: StoreWriter, wire: Any) -> None:
    """write_metrics returns how many points were new: all of them first, none on a re-send."""
    t = wire.T0
    request = wire.log(wire.resource(), (t, 1, {"loss": 0.5}), (t + 1, 2, {"loss": 0.4}))

    assert writer.write_metrics(request) == 2
    assert writer.write_metrics(request) == 0


def test_attribute_sets_of_one_metric_at_one_time_are_separate_series(
    conn: sqlite3.Connection, writer: StoreWriter, wire: Any
) -> None:
    """Several attribute sets of one plain OTel metric at one timestamp are all kept."""
    t = wire.T0
    request = wire.gauge(
        wire.resource(),
        "gpu.utilization",
        [
            (t, 0.91, {"gpu": 0, "host": "n1"}),
            (t, 0.52, {"gpu": 1, "host": "n1"}),
            (t, 0.13, {}),
        ],
    )
    writer.write_metrics(request)

    rows = conn.execute(
        "SELECT s.attributes, p.value, p.time FROM points p JOIN series s ON s.id = p.series_id"
        " WHERE s.name = 'gpu.utilization' ORDER BY p.value"
    ).fetchall()
    assert rows == [
        ("{}", 0.13, t),
        ('{"gpu":1,"host":"n1"}', 0.52, t),
        ('{"gpu":0,"host":"n1"}', 0.91, t),
    ]
    assert _count(conn, "series") == 3


def test_same_attribute_set_in_another_key_order_is_one_series(
    conn: sqlite3.Connection, writer: StoreWriter, wire: Any
) -> None:
    """An attribute set whose keys arrive in a different order names the same series."""
    t = wire.T0
    resource = wire.resource()
    writer.write_metrics(wire.gauge(resource, "mem", [(t, 1.0, {"a": "x", "b": 2})]))
    writer.write_metrics(wire.gauge(resource, "mem", [(t + 1, 2.0, {"b": 2, "a": "x"})]))
    # The re-sent first point with reordered keys is the same point.
    writer.write_metrics(wire.gauge(resource, "mem", [(t, 9.0, {"b": 2, "a": "x"})]))

    assert _count(conn, "series") == 1
    rows = conn.execute("SELECT time, value FROM points ORDER BY time").fetchall()
    assert rows == [(t, 1.0), (t + 1, 2.0)]


def test_points_of_two_ranks_at_one_time_are_both_kept(
    conn: sqlite3.Connection, writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """Two ranks of one run logging the same metric at the same timestamp keep both points."""
    t = wire.T0
    rank0 = wire.resource(rank=0, world_size=2)
    rank1 = wire.resource(rank=1, world_size=2)
    writer.write_metrics(wire.log(rank0, (t, 10, {"loss": 0.30})))
    writer.write_metrics(wire.log(rank1, (t, 10, {"loss": 0.35})))

    points = reader.points("a1b2c3d4e5f6", "loss")
    assert sorted(points) == [(10, t, 0.30), (10, t, 0.35)]
    ranks = conn.execute("SELECT run_id, rank FROM resources ORDER BY rank").fetchall()
    assert ranks == [("a1b2c3d4e5f6", 0), ("a1b2c3d4e5f6", 1)]
    assert _count(conn, "runs") == 1


def test_step_is_joined_from_ml_step_in_the_same_request(
    conn: sqlite3.Connection, writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """Each trainwire point gets the step of the ml.step point at its resource and time."""
    t = wire.T0
    request = wire.log(
        wire.resource(),
        (t, 7, {"loss": 0.7, "lr": 0.01}),
        (t + 5, 8, {"loss": 0.6}),
        (t + 9, 20, {"lr": 0.001}),
    )
    writer.write_metrics(request)

    assert reader.points("a1b2c3d4e5f6", "loss") == [(7, t, 0.7), (8, t + 5, 0.6)]
    assert reader.points("a1b2c3d4e5f6", "lr") == [(7, t, 0.01), (20, t + 9, 0.001)]
    # ml.step itself is the join key, not a stored series.
    assert reader.points("a1b2c3d4e5f6", semconv.METRIC_STEP) == []
    assert conn.execute("SELECT time, step FROM steps ORDER BY time").fetchall() == [
        (t, 7),
        (t + 5, 8),
        (t + 9, 20),
    ]


def test_step_arriving_in_a_later_request_fills_in_stored_points(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """Points stored before their ml.step point arrives get the step when it does."""
    t = wire.T0
    resource = wire.resource()
    writer.write_metrics(wire.values_only(resource, (t, {"loss": 0.9}), (t + 1, {"loss": 0.8})))
    assert reader.points("a1b2c3d4e5f6", "loss") == [(None, t, 0.9), (None, t + 1, 0.8)]

    writer.write_metrics(wire.step_only(resource, (t, 100), (t + 1, 101)))

    assert reader.points("a1b2c3d4e5f6", "loss") == [(100, t, 0.9), (101, t + 1, 0.8)]


def test_late_step_only_fills_points_of_its_own_resource(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A late ml.step of rank 1 does not give its step to rank 0's point at the same time."""
    t = wire.T0
    rank0 = wire.resource(rank=0, world_size=2)
    rank1 = wire.resource(rank=1, world_size=2)
    writer.write_metrics(wire.values_only(rank0, (t, {"loss": 0.1})))
    writer.write_metrics(wire.values_only(rank1, (t, {"loss": 0.2})))
    writer.write_metrics(wire.step_only(rank1, (t, 5)))

    assert sorted(reader.points("a1b2c3d4e5f6", "loss"), key=lambda p: p[2]) == [
        (None, t, 0.1),
        (5, t, 0.2),
    ]


def test_step_arriving_in_an_earlier_request_is_picked_up(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """Points arriving after their ml.step point (in a later request) take its step."""
    t = wire.T0
    resource = wire.resource()
    writer.write_metrics(wire.step_only(resource, (t, 42), (t + 1, 43)))
    writer.write_metrics(wire.values_only(resource, (t, {"loss": 0.5}), (t + 1, {"loss": 0.4})))

    assert reader.points("a1b2c3d4e5f6", "loss") == [(42, t, 0.5), (43, t + 1, 0.4)]


def test_late_step_fills_in_trainwire_distributions(
    conn: sqlite3.Connection, writer: StoreWriter, wire: Any
) -> None:
    """A trainwire-scope histogram stored before its ml.step point gets the step when it arrives."""
    t = wire.T0
    resource = wire.resource()
    writer.write_metrics(
        _histogram_request(
            resource,
            semconv.SCOPE_NAME,
            "grad_norm",
            t,
            count=2,
            sum=1.0,
            explicit_bounds=[0.5],
            bucket_counts=[1, 1],
        )
    )
    writer.write_metrics(wire.step_only(resource, (t, 12)))

    assert conn.execute("SELECT time, step FROM distributions").fetchall() == [(t, 12)]


def test_plain_otel_metrics_have_no_step(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A plain OTel point at the same time as an ml.step point of its resource keeps step None."""
    t = wire.T0
    resource = wire.resource()
    request = wire.log(resource, (t, 3, {"loss": 0.2}))
    plain = wire.gauge(resource, "system.cpu.utilization", [(t, 0.75, {})])
    request.resource_metrics[0].scope_metrics.append(plain.resource_metrics[0].scope_metrics[0])
    writer.write_metrics(request)

    assert reader.points("a1b2c3d4e5f6", "system.cpu.utilization") == [(None, t, 0.75)]
    assert reader.points("a1b2c3d4e5f6", "loss") == [(3, t, 0.2)]


def test_plain_otel_metrics_are_attributed_to_their_resource(
    conn: sqlite3.Connection, writer: StoreWriter, wire: Any
) -> None:
    """Metrics from a resource without ml.run.id are stored against that resource and no run."""
    t = wire.T0
    resource = Resource(
        attributes=[
            KeyValue(key="service.name", value=AnyValue(string_value="dataloader")),
            KeyValue(key="host.name", value=AnyValue(string_value="n7")),
        ]
    )
    writer.write_metrics(wire.gauge(resource, "queue.depth", [(t, 12.0, {"queue": "train"})]))

    rows = conn.execute(
        "SELECT r.run_id, r.rank, r.attributes, s.scope_name, s.type, p.step, p.value"
        " FROM points p JOIN series s ON s.id = p.series_id"
        " JOIN resources r ON r.id = s.resource_id"
    ).fetchall()
    assert rows == [
        (
            None,
            None,
            '{"host.name":"n7","service.name":"dataloader"}',
            "opentelemetry.instrumentation.system_metrics",
            "gauge",
            None,
            12.0,
        )
    ]
    assert _count(conn, "runs") == 0


def test_unset_resource_is_stored_as_anonymous(
    conn: sqlite3.Connection, writer: StoreWriter, wire: Any
) -> None:
    """A request with an unset (empty) Resource is stored under an anonymous resource."""
    t = wire.T0
    request = wire.gauge(None, "requests", [(t, 3.0, {"route": "/"})])
    assert not request.resource_metrics[0].HasField("resource")
    writer.write_metrics(request)
    writer.write_metrics(wire.gauge(Resource(), "requests", [(t + 1, 4.0, {"route": "/"})]))

    assert conn.execute("SELECT run_id, rank, attributes FROM resources").fetchall() == [
        (None, None, "{}")
    ]
    rows = conn.execute("SELECT time, step, value FROM points ORDER BY time").fetchall()
    assert rows == [(t, None, 3.0), (t + 1, None, 4.0)]
    assert _count(conn, "runs") == 0


def test_nan_and_infinities_read_back(writer: StoreWriter, reader: StoreReader, wire: Any) -> None:
    """NaN, +inf and -inf values read back as nan, inf and -inf."""
    t = wire.T0
    request = wire.log(
        wire.resource(),
        (t, 1, {"loss": math.nan}),
        (t + 1, 2, {"loss": math.inf}),
        (t + 2, 3, {"loss": -math.inf}),
        (t + 3, 4, {"loss": 0.25}),
    )
    writer.write_metrics(request)

    points = reader.points("a1b2c3d4e5f6", "loss")
    assert [(step, time) for step, time, _ in points] == [
        (1, t),
        (2, t + 1),
        (3, t + 2),
        (4, t + 3),
    ]
    values = [value for _, _, value in points]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf, 0.25]


def test_latest_value_nan_reads_back_as_nan(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """latest_metrics reports a NaN last value as nan with its step and time."""
    t = wire.T0
    writer.write_metrics(
        wire.log(wire.resource(), (t, 1, {"loss": 0.5}), (t + 1, 2, {"loss": math.nan}))
    )

    latest = reader.latest_metrics("a1b2c3d4e5f6")
    assert list(latest) == ["loss"]
    assert math.isnan(latest["loss"].value)
    assert (latest["loss"].step, latest["loss"].time) == (2, t + 1)


def test_latest_metrics_keys_series_by_attributes(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """latest_metrics keeps logged metrics and other series apart, each attribute set under its own key."""
    t = wire.T0
    resource = wire.resource()
    writer.write_metrics(wire.log(resource, (t, 1, {"loss": 0.5}), (t + 2, 2, {"loss": 0.3})))
    writer.write_metrics(
        wire.gauge(resource, "gpu.util", [(t, 0.1, {"gpu": 0}), (t + 1, 0.2, {"gpu": 0})])
    )

    logged = reader.latest_metrics("a1b2c3d4e5f6")
    other = reader.latest_metrics("a1b2c3d4e5f6", logged=False)
    assert {k: (v.value, v.step, v.time) for k, v in logged.items()} == {"loss": (0.3, 2, t + 2)}
    assert {k: (v.value, v.step, v.time) for k, v in other.items()} == {
        "gpu.util{gpu=0}": (0.2, None, t + 1)
    }


def test_histogram_points_go_to_distributions(
    conn: sqlite3.Connection, writer: StoreWriter, wire: Any
) -> None:
    """A Histogram point is stored in distributions with count, sum, min, max, bounds, counts."""
    t = wire.T0
    request = _histogram_request(
        wire.resource(),
        "opentelemetry.instrumentation.torch",
        "batch.latency",
        t,
        count=6,
        sum=2.75,
        min=0.05,
        max=1.5,
        explicit_bounds=[0.1, 0.5, 1.0],
        bucket_counts=[1, 2, 2, 1],
    )
    writer.write_metrics(request)
    writer.write_metrics(request)

    rows = conn.execute(
        "SELECT s.name, s.type, s.unit, d.time, d.step, d.count, d.sum, d.min, d.max, d.data"
        " FROM distributions d JOIN series s ON s.id = d.series_id"
    ).fetchall()
    assert len(rows) == 1
    name, kind, unit, time, step, count, total, low, high, data = rows[0]
    assert (name, kind, unit, time, step) == ("batch.latency", "histogram", "1", t, None)
    assert (count, total, low, high) == (6, 2.75, 0.05, 1.5)
    assert json.loads(data) == {"bounds": [0.1, 0.5, 1.0], "counts": [1, 2, 2, 1], "temporality": 2}
    assert _count(conn, "points") == 0


def test_histogram_without_optional_fields_stores_null(
    conn: sqlite3.Connection, writer: StoreWriter, wire: Any
) -> None:
    """A Histogram point without sum, min and max stores them as NULL."""
    t = wire.T0
    request = _histogram_request(
        wire.resource(),
        semconv.SCOPE_NAME,
        "weights",
        t,
        count=3,
        explicit_bounds=[0.0],
        bucket_counts=[1, 2],
    )
    # In the same request as its ml.step point, a trainwire histogram takes that step.
    request.resource_metrics[0].scope_metrics[0].metrics.add(
        name=semconv.METRIC_STEP
    ).gauge.data_points.add(time_unix_nano=t, as_int=9)
    writer.write_metrics(request)

    row = conn.execute("SELECT step, count, sum, min, max, data FROM distributions").fetchone()
    assert row[:5] == (9, 3, None, None, None)
    assert json.loads(row[5]) == {"bounds": [0.0], "counts": [1, 2], "temporality": 2}


def test_run_is_created_from_metrics_alone(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A run whose only data is metrics exists, running, in its resource's experiment."""
    t = wire.T0
    resource = wire.resource("f00dfeed0001", experiment="cifar", world_size=4, rank=2)
    writer.write_metrics(wire.log(resource, (t, 1, {"loss": 1.0}), (t + 10, 2, {"loss": 0.9})))

    run = reader.run("f00dfeed0001")
    assert run.run_id == "f00dfeed0001"
    assert run.name == "f00dfeed0001"
    assert run.status == semconv.STATUS_RUNNING
    assert run.experiment == "cifar"
    assert run.world_size == 4
    assert run.end_time is None
    assert [r.run_id for r in reader.runs(experiment="cifar")] == ["f00dfeed0001"]
    assert reader.runs(experiment="mnist") == []


def test_run_from_metrics_starts_at_its_earliest_point(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A run known only from metrics has the time of its earliest point as start_time."""
    t = wire.T0
    resource = wire.resource()
    writer.write_metrics(wire.log(resource, (t, 1, {"loss": 1.0}), (t + 10, 2, {"loss": 0.9})))

    assert reader.run("a1b2c3d4e5f6").start_time == t
