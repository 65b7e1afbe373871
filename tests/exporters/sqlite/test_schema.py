"""The store's schema: versioning and reopening."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.exporters.sqlite import StoreReader
from trainwire.exporters.sqlite.schema import _MIGRATIONS, SCHEMA_VERSION, connect
from trainwire.exporters.sqlite.writer import StoreWriter


def test_new_store_has_current_version_and_wal(tmp_path: Path) -> None:
    """A new store is created at SCHEMA_VERSION in WAL mode."""
    conn = connect(tmp_path / "new.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_newer_store_is_refused_with_upgrade_hint(tmp_path: Path) -> None:
    """A store whose user_version is above SCHEMA_VERSION raises DatabaseError saying to upgrade."""
    path = tmp_path / "future.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()

    with pytest.raises(sqlite3.DatabaseError) as caught:
        connect(path)

    message = str(caught.value)
    assert str(path) in message
    assert f"version {SCHEMA_VERSION + 1} is newer" in message
    assert "upgrade trainwire" in message


def test_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    """A file that is not SQLite raises sqlite3.DatabaseError."""
    path = tmp_path / "notes.db"
    path.write_text("this is not a database, just some text that is long enough" * 20)

    with pytest.raises(sqlite3.DatabaseError):
        connect(path)


def test_reopened_store_keeps_its_data(tmp_path: Path, wire: Any) -> None:
    """Closing and reopening a store keeps its runs, points and events and its version."""
    path = tmp_path / "keep.db"
    t = wire.T0
    resource = wire.resource()
    conn = connect(path)
    writer = StoreWriter(conn)
    writer.write_metrics(wire.log(resource, (t, 1, {"loss": 0.5})))
    writer.write_logs(wire.events(resource, (t, "ml.run.rename", {"name": "kept"})))
    conn.close()

    conn = connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
        # Writing the same data through the reopened store adds nothing.
        again = StoreWriter(conn)
        again.write_metrics(wire.log(resource, (t, 1, {"loss": 0.5})))
        assert conn.execute("SELECT count(*) FROM points").fetchone()[0] == 1
    finally:
        conn.close()
    with StoreReader(path) as reader:
        assert reader.run("a1b2c3d4e5f6").name == "kept"
        assert reader.points("a1b2c3d4e5f6", "loss") == [(1, t, 0.5)]


def test_version_1_store_is_migrated_keeping_its_data(tmp_path: Path, wire: Any) -> None:
    """A store written by schema version 1 opens at SCHEMA_VERSION with its data, a spans table and a superseded_points table."""
    path = tmp_path / "v1.db"
    raw = sqlite3.connect(path)
    raw.executescript(_MIGRATIONS[0])
    raw.execute("INSERT INTO runs(run_id, name, experiment) VALUES ('r1', 'old run', 'mnist')")
    raw.execute("PRAGMA user_version=1")
    raw.commit()
    raw.close()

    conn = connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3
        assert conn.execute("SELECT run_id, name FROM runs").fetchall() == [("r1", "old run")]
        request = ExportTraceServiceRequest()
        span = request.resource_spans.add().scope_spans.add().spans.add(name="migrated")
        span.trace_id, span.span_id = b"\x01" * 16, b"\x02" * 8
        assert StoreWriter(conn).write_traces(request) == 1
        assert conn.execute("SELECT count(*) FROM superseded_points").fetchone() == (0,)
    finally:
        conn.close()
