"""``sealing_cpu_share``: how much of a core the writer spends packing older points.

0 never seals and 1 keeps up with ingest, and both stores answer every query the same;
the embedded default (a small share, beside the training loop) still seals a run that
logs at a training pace.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

import trainwire
from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.exporters.sqlite.query import RunQuery
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter
from trainwire.records import MetricRecord, encode_metrics

T0 = 1_700_000_000_000_000_000


def _chunks(db: Path) -> int:
    conn = sqlite3.connect(db)
    (count,) = conn.execute("SELECT count(*) FROM point_chunks").fetchone()
    conn.close()
    return int(count)


def _write(db: Path, share: float) -> None:
    conn = connect(db)
    writer = StoreWriter(conn, sealing_cpu_share=share)
    resource = Resource(attributes=to_attributes({semconv.ML_RUN_ID: "r1"}))
    scope = InstrumentationScope(name=semconv.SCOPE_NAME)
    for start in range(0, 6000, 500):
        records = [
            MetricRecord(T0 + s * 1_000_000, s, {"loss": 1 / (s + 1), "acc": s / 6000})
            for s in range(start, start + 500)
        ]
        writer.write_metrics(encode_metrics(resource, scope, records))
    conn.close()


def test_share_0_never_seals_share_1_seals_and_both_answer_the_same(tmp_path: Path) -> None:
    loose, sealed = tmp_path / "loose.db", tmp_path / "sealed.db"
    _write(loose, 0.0)
    _write(sealed, 1.0)
    assert _chunks(loose) == 0
    assert _chunks(sealed) == 2 * 4  # per metric: 1,024 at a time while 2,048 are loose
    with RunQuery(loose) as a, RunQuery(sealed) as b:
        for query in ({}, {"max_points": 100}, {"from_step": 1000, "to_step": 4000}):
            assert a.metrics("r1", **query) == b.metrics("r1", **query)
        assert a.get_run("r1")["metrics"] == b.get_run("r1")["metrics"]


def test_the_embedded_default_seals_a_run_logging_at_a_training_pace(tmp_path: Path) -> None:
    """Bursts of log() with pauses (the training step's own work) leave it enough time."""
    db = tmp_path / "trainwire.db"
    with trainwire.init(name="paced", db_path=db, capture_pip=False, system_metrics=False) as run:
        for burst in range(5):
            for step in range(burst * 1200, (burst + 1) * 1200):
                run.log({"loss": 1 / (step + 1)}, step=step)
            time.sleep(0.2)  # stands for the forward and backward passes
        run_id = run.id
    assert _chunks(db) >= 1
    with trainwire.Client(db) as client:
        assert [p["step"] for p in client.metrics(run_id, "loss")] == list(range(6000))
