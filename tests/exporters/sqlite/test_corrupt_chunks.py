"""A damaged chunk of sealed points: a clear error that says what to do, and the rest still reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

import trainwire
from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.cli import main
from trainwire.errors import CorruptStoreError
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.storing import store
from trainwire.exporters.sqlite.writer import StoreWriter
from trainwire.records import MetricRecord, encode_metrics

STEPS = 5000


def _logged_run(db: Path) -> str:
    """A run of the embedded default logging ``loss`` and ``acc`` at every step."""
    with trainwire.init(name="long", db_path=db, capture_pip=False, system_metrics=False) as run:
        for step in range(STEPS):
            run.log({"loss": 1.0 / (step + 1), "acc": step / STEPS}, step=step)
        return run.id


def _damage_a_chunk(db: Path, key: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        cursor = conn.execute(
            "UPDATE point_chunks SET value_data = x'00112233' WHERE rowid = (SELECT c.rowid"
            " FROM point_chunks c JOIN series s ON s.id = c.series_id WHERE s.name = ?"
            " ORDER BY c.last_time LIMIT 1)",
            (key,),
        )
        assert cursor.rowcount == 1, "the embedded writer sealed no chunk of this metric"
    conn.close()


def test_a_damaged_chunk_is_a_clear_error_and_other_metrics_still_read(tmp_path: Path) -> None:
    db = tmp_path / "trainwire.db"
    run_id = _logged_run(db)
    with trainwire.Client(db) as client:
        assert len(client.metrics(run_id, "loss")) == STEPS
    _damage_a_chunk(db, "loss")

    with trainwire.Client(db) as client, pytest.raises(CorruptStoreError, match="damaged"):
        client.metrics(run_id, "loss")
    with trainwire.Client(db) as client:
        acc = client.metrics(run_id, "acc")
        assert [p["step"] for p in acc] == list(range(STEPS))
        assert client.run(run_id)["status"] == "completed"

    result = CliRunner().invoke(main, ["metrics", run_id, "loss", "--db", str(db)])
    assert result.exit_code == 1
    assert "damaged" in result.output and "restore it from a backup" in result.output
    assert "Traceback" not in result.output


def test_a_resent_request_meeting_a_damaged_chunk_drops_only_its_resource(
    tmp_path: Path,
) -> None:
    """The queue is not blocked for good: the other run in the same request is stored."""
    scope = InstrumentationScope(name=semconv.SCOPE_NAME)

    def request(run: str, steps: range) -> ExportMetricsServiceRequest:
        resource = Resource(attributes=to_attributes({semconv.ML_RUN_ID: run}))
        records = [MetricRecord(10**18 + s, s, {"loss": s * 0.5}) for s in steps]
        return encode_metrics(resource, scope, records)

    db = tmp_path / "store.db"
    conn = connect(db)
    writer = StoreWriter(conn)
    assert store(writer, "metrics", request("old", range(STEPS))).written == STEPS
    _damage_a_chunk(db, "loss")

    both = request("old", range(100))  # a re-send reaching into the damaged chunk
    both.resource_metrics.extend(request("new", range(10)).resource_metrics)
    stored = store(writer, "metrics", both)
    assert stored.written == 10
    assert stored.dropped is not None and "damaged" in stored.dropped
    conn.close()
    with trainwire.Client(db) as client:
        assert [p["step"] for p in client.metrics("new", "loss")] == list(range(10))
