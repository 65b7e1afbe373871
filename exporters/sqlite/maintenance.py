"""Change a run store by hand: rename a run, remove a run with all its rows.

Removal reads the schema rather than a fixed list of tables, so tables added by
later migrations go with the run too: every table with a ``run_id`` column, then
every table keyed by one of the run's series or resources.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

__all__ = ["RemovedRun", "remove_run", "rename_run"]


@dataclass(frozen=True)
class RemovedRun:
    """What :func:`remove_run` deleted."""

    run_id: str
    rows: int
    """Rows deleted, over every table."""
    sha256s: frozenset[str]
    """Blobs the run's artifacts referenced (still on disk; see ``gc``)."""


def rename_run(
    conn: sqlite3.Connection, run_id: str, name: str, *, time_ns: int | None = None
) -> None:
    """Give run ``run_id`` the display name ``name``.

    The rename is stamped with ``time_ns`` (now), so an older ``ml.run.rename`` event
    that arrives later does not undo it, while a newer one from the script still wins.

    Raises:
        ValueError: ``name`` is empty or only spaces.
    """
    if not name or not name.strip():
        raise ValueError("the new name is empty; give a name such as 'baseline-v2'")
    stamp = time.time_ns() if time_ns is None else time_ns
    conn.execute(
        "UPDATE runs SET name = ?, name_time = max(name_time, ?) WHERE run_id = ?",
        (name, stamp, run_id),
    )


def remove_run(conn: sqlite3.Connection, run_id: str) -> RemovedRun:
    """Delete run ``run_id`` and every row that belongs to it, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        sha256s = frozenset(
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT sha256 FROM artifacts WHERE run_id = ?", (run_id,)
            )
        )
        deleted = _delete_rows(conn, run_id)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return RemovedRun(run_id, deleted, sha256s)


def _delete_rows(conn: sqlite3.Connection, run_id: str) -> int:
    columns = _columns(conn)
    resources = [r[0] for r in conn.execute("SELECT id FROM resources WHERE run_id = ?", (run_id,))]
    series = _ids_of(conn, "SELECT id FROM series WHERE resource_id = ?", resources)
    rows = 0
    for table, names in columns.items():
        if table in ("resources", "series"):
            continue
        if "series_id" in names:
            rows += _delete_in(conn, table, "series_id", series)
        if "resource_id" in names:
            rows += _delete_in(conn, table, "resource_id", resources)
        if "run_id" in names:
            rows += conn.execute(f'DELETE FROM "{table}" WHERE run_id = ?', (run_id,)).rowcount
    rows += _delete_in(conn, "series", "id", series)
    rows += _delete_in(conn, "resources", "id", resources)
    return rows


def _columns(conn: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {t: {c[1] for c in conn.execute(f'PRAGMA table_info("{t}")')} for t in tables}


def _ids_of(conn: sqlite3.Connection, sql: str, keys: list[int]) -> list[int]:
    return [row[0] for key in keys for row in conn.execute(sql, (key,))]


def _delete_in(conn: sqlite3.Connection, table: str, column: str, ids: list[int]) -> int:
    deleted = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        deleted += conn.execute(
            f'DELETE FROM "{table}" WHERE "{column}" IN ({marks})', chunk
        ).rowcount
    return deleted
