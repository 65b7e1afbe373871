"""Store behaviours a review found broken: odd event fields, resumed ranks, late steps."""

from __future__ import annotations

import sqlite3
from typing import Any

from trainwire import semconv
from trainwire.exporters.sqlite import StoreReader
from trainwire.exporters.sqlite.writer import StoreWriter


def test_event_fields_of_unexpected_types_are_stored_not_fatal(
    conn: sqlite3.Connection, writer: StoreWriter, wire: Any
) -> None:
    """A metric spec whose goal is a map, an artifact whose size is a list and a group given as an array are stored as text, and the next request is stored too."""
    t = wire.T0
    resource = wire.resource(**{semconv.ML_RUN_GROUP: ["a", "b"], semconv.HOST_NAME: ["n1"]})
    writer.write_logs(
        wire.events(
            resource,
            (
                t,
                semconv.EVENT_RUN_METRIC_SPEC,
                {"key": "acc", "goal": {"x": 1}, "step_metric": ["e"]},
            ),
            (t + 1, semconv.EVENT_ARTIFACT, {"name": "m", "sha256": "ab" * 32, "size": [1, 2]}),
        )
    )
    writer.write_metrics(wire.log(resource, (t + 2, 0, {"loss": 1.0})))
    assert conn.execute("SELECT goal, step_metric FROM metric_specs").fetchall() == [
        ('{"x":1}', '["e"]')
    ]
    assert conn.execute("SELECT size FROM artifacts").fetchall() == [(0,)]
    assert conn.execute("SELECT group_name, host FROM runs").fetchall() == [('["a","b"]', '["n1"]')]
    assert conn.execute("SELECT count(*) FROM points").fetchone() == (1,)


def test_a_later_rank_resuming_does_not_set_aside_what_rank_0_logged_since(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """When rank 1's resume arrives after rank 0 already logged the new attempt, only rank 1's own earlier points are set aside."""
    t = wire.T0
    r0, r1 = wire.resource(rank=0, world_size=2), wire.resource(rank=1, world_size=2)
    writer.write_metrics(wire.log(r0, *[(t + s, s, {"loss": float(s)}) for s in range(15)]))
    later = t + 10**9
    writer.write_logs(
        wire.events(r0, (later, semconv.EVENT_RUN_START, {"resumed": True, "resume_from": 10}))
    )
    writer.write_metrics(
        wire.log(r0, (later + 1, 11, {"loss": 111.0}), (later + 2, 12, {"loss": 112.0}))
    )
    writer.write_logs(
        wire.events(
            r1, (later + 10**9, semconv.EVENT_RUN_START, {"resumed": True, "resume_from": 10})
        )
    )
    points = [
        (step, value) for step, _, value in reader.points("a1b2c3d4e5f6", "loss") if step >= 9
    ]
    assert points == [(9, 9.0), (10, 10.0), (11, 111.0), (12, 112.0)]
    assert [p[0] for p in reader.superseded("a1b2c3d4e5f6", "loss")] == [11, 12, 13, 14]


def test_steps_arriving_late_and_out_of_order_fill_every_point(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """Value points stored before their steps get them even when the steps come in separate, reordered requests."""
    t = wire.T0
    resource = wire.resource()
    writer.write_metrics(wire.values_only(resource, (t, {"v": 1.0}), (t + 1, {"v": 2.0})))
    writer.write_metrics(wire.step_only(resource, (t + 1, 8)))
    writer.write_metrics(wire.step_only(resource, (t, 7)))
    assert [(step, value) for step, _, value in reader.points("a1b2c3d4e5f6", "v")] == [
        (7, 1.0),
        (8, 2.0),
    ]
