"""The run store's schema and its versioned migrations.

Designed for the whole product: runs and their ranks, params, tags, labels,
summaries, metric points (step resolved from the ``ml.step`` point at the same
resource and time), distributions, events, artifacts, spans, and plain
OpenTelemetry series with their attributes. NaN is stored as NULL in ``points.value`` (SQLite
cannot hold NaN); a point row always has a value, so NULL reads back as NaN. A series'
older points are sealed into packed ``point_chunks`` (chunks.py); read points through
series_read.py, never from ``points`` alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

__all__ = ["SCHEMA_VERSION", "connect"]

_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE resources (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        run_id TEXT,
        rank INTEGER,
        attributes TEXT NOT NULL
    );
    CREATE INDEX resources_run ON resources(run_id);
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        name TEXT,
        name_time INTEGER NOT NULL DEFAULT 0,
        experiment TEXT NOT NULL DEFAULT 'default',
        group_name TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        start_time INTEGER,
        end_time INTEGER,
        last_seen INTEGER,
        world_size INTEGER NOT NULL DEFAULT 1,
        host TEXT,
        exit_code INTEGER,
        exception_type TEXT,
        exception_message TEXT,
        exception_stacktrace TEXT,
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX runs_experiment ON runs(experiment, start_time);
    CREATE TABLE run_ranks (
        run_id TEXT NOT NULL,
        rank INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        host TEXT,
        pid INTEGER,
        end_time INTEGER,
        exit_code INTEGER,
        PRIMARY KEY (run_id, rank)
    ) WITHOUT ROWID;
    CREATE TABLE params (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        time INTEGER NOT NULL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE tags (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        time INTEGER NOT NULL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE labels (
        run_id TEXT NOT NULL,
        label TEXT NOT NULL,
        present INTEGER NOT NULL,
        time INTEGER NOT NULL,
        PRIMARY KEY (run_id, label)
    ) WITHOUT ROWID;
    CREATE TABLE summaries (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        time INTEGER NOT NULL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE metric_specs (
        run_id TEXT NOT NULL,
        key TEXT NOT NULL,
        goal TEXT,
        step_metric TEXT,
        time INTEGER NOT NULL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        resource_id INTEGER NOT NULL REFERENCES resources(id),
        scope_name TEXT NOT NULL,
        scope_version TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        unit TEXT NOT NULL DEFAULT '',
        attr_hash TEXT NOT NULL,
        attributes TEXT NOT NULL,
        UNIQUE (resource_id, scope_name, name, attr_hash)
    );
    CREATE TABLE steps (
        resource_id INTEGER NOT NULL,
        time INTEGER NOT NULL,
        step INTEGER NOT NULL,
        PRIMARY KEY (resource_id, time)
    ) WITHOUT ROWID;
    CREATE TABLE points (
        series_id INTEGER NOT NULL,
        time INTEGER NOT NULL,
        step INTEGER,
        value REAL,
        PRIMARY KEY (series_id, time)
    ) WITHOUT ROWID;
    CREATE TABLE distributions (
        series_id INTEGER NOT NULL,
        time INTEGER NOT NULL,
        step INTEGER,
        count INTEGER NOT NULL,
        sum REAL,
        min REAL,
        max REAL,
        data TEXT NOT NULL,
        PRIMARY KEY (series_id, time)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        uid TEXT PRIMARY KEY,
        resource_id INTEGER NOT NULL,
        run_id TEXT,
        name TEXT,
        time INTEGER NOT NULL,
        severity_number INTEGER NOT NULL DEFAULT 0,
        severity_text TEXT NOT NULL DEFAULT '',
        body TEXT,
        attributes TEXT NOT NULL
    );
    CREATE INDEX events_run ON events(run_id, name, time);
    CREATE TABLE artifacts (
        run_id TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        mime_type TEXT NOT NULL DEFAULT 'application/octet-stream',
        time INTEGER NOT NULL,
        PRIMARY KEY (run_id, name, sha256)
    ) WITHOUT ROWID;
    """,
    # 2: spans (OTLP traces). Ids are lowercase hex ('' when unset); kind and
    # status_code keep OTLP's enum numbers; events and links are JSON lists.
    """
    CREATE TABLE spans (
        trace_id TEXT NOT NULL,
        span_id TEXT NOT NULL,
        parent_span_id TEXT NOT NULL DEFAULT '',
        resource_id INTEGER NOT NULL REFERENCES resources(id),
        run_id TEXT,
        scope_name TEXT NOT NULL DEFAULT '',
        scope_version TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        kind INTEGER NOT NULL DEFAULT 0,
        start_time INTEGER NOT NULL,
        end_time INTEGER NOT NULL,
        status_code INTEGER NOT NULL DEFAULT 0,
        status_message TEXT NOT NULL DEFAULT '',
        attributes TEXT NOT NULL,
        events TEXT NOT NULL DEFAULT '[]',
        links TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (trace_id, span_id)
    ) WITHOUT ROWID;
    CREATE INDEX spans_run ON spans(run_id, start_time);
    """,
    # 3: points set aside by a resume_from rewind (kept, not mixed into the series).
    """
    CREATE TABLE superseded_points (
        series_id INTEGER NOT NULL,
        time INTEGER NOT NULL,
        step INTEGER,
        value REAL,
        PRIMARY KEY (series_id, time)
    ) WITHOUT ROWID;
    """,
    # 4: leases of the embedded default (lease.py): the process that owns a running run,
    # so readers can tell a killed one (expires in ns since the epoch).
    """
    CREATE TABLE leases (
        run_id TEXT NOT NULL,
        rank INTEGER NOT NULL,
        pid INTEGER NOT NULL,
        boot_id TEXT NOT NULL,
        host TEXT,
        expires INTEGER NOT NULL,
        PRIMARY KEY (run_id, rank)
    ) WITHOUT ROWID;
    CREATE INDEX leases_owner ON leases(pid, boot_id);
    """,
    # 5: rollups of each series' points in time blocks (rollups.py), for downsampling;
    # existing points are folded in by _backfill_rollups.
    """
    CREATE TABLE point_rollups (
        series_id INTEGER NOT NULL,
        shift INTEGER NOT NULL,
        block INTEGER NOT NULL,
        count INTEGER NOT NULL,
        nan_count INTEGER NOT NULL,
        first_time INTEGER NOT NULL,
        first_step INTEGER,
        first_value REAL,
        last_time INTEGER NOT NULL,
        last_step INTEGER,
        last_value REAL,
        min_time INTEGER,
        min_step INTEGER,
        min_value REAL,
        max_time INTEGER,
        max_step INTEGER,
        max_value REAL,
        nan_time INTEGER,
        PRIMARY KEY (series_id, shift, block)
    ) WITHOUT ROWID;
    CREATE TRIGGER series_rollups_gone AFTER DELETE ON series BEGIN
        DELETE FROM point_rollups WHERE series_id = old.id;
    END;
    CREATE TRIGGER run_leases_gone AFTER DELETE ON runs BEGIN
        DELETE FROM leases WHERE run_id = old.run_id;
    END;
    """,
    # 6: sealed chunks of points (chunks.py): a series' older points packed 1,024 a row;
    # existing points are sealed by seal_all.
    """
    CREATE TABLE point_chunks (
        series_id INTEGER NOT NULL,
        last_time INTEGER NOT NULL,
        first_time INTEGER NOT NULL,
        count INTEGER NOT NULL,
        min_step INTEGER,
        max_step INTEGER,
        last_step INTEGER,
        last_value REAL,
        flags INTEGER NOT NULL,
        time_data BLOB NOT NULL,
        step_data BLOB NOT NULL,
        value_data BLOB NOT NULL,
        PRIMARY KEY (series_id, last_time)
    );
    CREATE TRIGGER series_chunks_gone AFTER DELETE ON series BEGIN
        DELETE FROM point_chunks WHERE series_id = old.id;
    END;
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


def _backfill_rollups(conn: sqlite3.Connection) -> None:
    from trainwire.exporters.sqlite.rollups import rebuild_all

    rebuild_all(conn)


def _seal_points(conn: sqlite3.Connection) -> None:
    from trainwire.exporters.sqlite.chunks import seal_all

    seal_all(conn)


_AFTER: dict[int, Callable[[sqlite3.Connection], None]] = {5: _backfill_rollups, 6: _seal_points}
"""Python steps of the migration to that version, run in order once the SQL of every
migration has run (they read through today's code, which expects today's tables), in
the same transaction."""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the store at ``path`` in WAL mode, creating or migrating it as needed.

    Raises:
        sqlite3.DatabaseError: the file is not a trainwire store, or is newer
            than this version of trainwire understands.
    """
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process; only power loss can drop the last commit.
    conn.execute("PRAGMA synchronous=NORMAL")
    _migrate(conn, path)
    return conn


def _migrate(conn: sqlite3.Connection, path: str | Path) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"{path}: store schema version {version} is newer than this trainwire understands"
            f" ({SCHEMA_VERSION}); upgrade trainwire"
        )
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for number in range(version, SCHEMA_VERSION):
            for statement in _statements(_MIGRATIONS[number]):
                conn.execute(statement)
        for number in range(version + 1, SCHEMA_VERSION + 1):
            if number in _AFTER and version > 0:  # a new store has nothing to fold or seal
                _AFTER[number](conn)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """The statements of ``script`` (a trigger's body keeps its own semicolons)."""
    out: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                out.append(pending)
            pending = ""
    return out
