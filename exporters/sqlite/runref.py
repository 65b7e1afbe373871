"""Resolve what a user typed for a run: an exact id, a unique id prefix or a unique name."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from trainwire.errors import RunNotFoundError

__all__ = ["resolve_run"]


def resolve_run(conn: sqlite3.Connection, ref: str, path: str | Path) -> str:
    """The id of the run ``ref`` names in the store at ``path`` (for messages).

    Raises:
        RunNotFoundError: nothing matches, or several runs do (the message lists them).
    """
    if not isinstance(ref, str) or not ref.strip():
        raise RunNotFoundError("give a run id, a prefix of one, or a run name")
    if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (ref,)).fetchone():
        return ref
    queries = (
        ("SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ? LIMIT 6", (len(ref), ref)),
        ("SELECT run_id FROM runs WHERE name = ? LIMIT 6", (ref,)),
    )
    for sql, args in queries:
        rows = conn.execute(sql, args).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if len(rows) > 1:
            shown = ", ".join(r[0] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise RunNotFoundError(f"'{ref}' matches several runs ({shown}); give more of the id")
    raise RunNotFoundError(f"no run matches '{ref}' in {path}; `trainwire runs` lists them")
