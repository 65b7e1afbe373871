"""Listing runs: filters, sort and paging compiled to one parameterised query."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from trainwire import semconv
from trainwire.errors import InvalidQueryError
from trainwire.exporters.sqlite.filters import compile_filter, field_sql, parse_filter
from trainwire.exporters.sqlite.lease import dead_runs
from trainwire.exporters.sqlite.runs_json import STATUS_SQL, run_dict
from trainwire.exporters.sqlite.values import jsonable, loads

__all__ = ["MAX_LIMIT", "RUN_SELECT", "attach_tags", "list_runs", "refresh_dead"]

RUN_SELECT = (
    f"SELECT r.run_id, coalesce(r.name, r.run_id), r.experiment, r.group_name, {STATUS_SQL},"
    " r.start_time, r.end_time, r.last_seen, r.host, r.world_size, r.exit_code,"
    " r.exception_type, r.exception_message, r.details FROM runs r"
)
"""The columns :func:`~trainwire.exporters.sqlite.runs_json.run_dict` reads."""
MAX_LIMIT = 10_000
_SORTABLE = (
    "id",
    "name",
    "experiment",
    "group",
    "status",
    "host",
    "start_time",
    "end_time",
    "duration_s",
    "world_size",
)
_SORT_KEYED = {
    "params": "params",
    "param": "params",
    "config": "params",
    "summary": "summary",
    "summaries": "summary",
    "tags": "tags",
    "tag": "tags",
}


def list_runs(
    conn: sqlite3.Connection,
    *,
    experiment: str | None,
    status: str | None,
    tag: str | None,
    label: str | None,
    where: str | None,
    sort: str | None,
    limit: int | None,
    offset: int,
) -> dict[str, Any]:
    """The body of ``GET /api/runs`` (see :meth:`.query.RunQuery.list_runs`)."""
    if status is not None and status not in semconv.RUN_STATUSES:
        raise InvalidQueryError(
            f"status {status!r} is not one of {', '.join(semconv.RUN_STATUSES)}"
        )
    if limit is not None and not 0 <= limit <= MAX_LIMIT:
        raise InvalidQueryError(f"limit must be between 0 and {MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise InvalidQueryError(f"offset must be 0 or more, got {offset}")
    node = parse_filter(where) if where is not None else None
    order, order_args = _order(sort)
    refresh_dead(conn)
    conditions: list[str] = []
    args: list[Any] = []
    if experiment is not None:
        conditions.append("r.experiment = ?")
        args.append(experiment)
    if status is not None:
        conditions.append(f"{STATUS_SQL} = ?")
        args.append(status)
    if tag is not None:
        key, has_value, value = tag.partition("=")
        if has_value:  # tag values are stored as JSON; a plain string matches either way
            conditions.append(
                "EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.run_id AND t.key = ?"
                " AND (t.value = ? OR t.value = ?))"
            )
            args.extend((key, json.dumps(value), value))
        else:
            conditions.append(
                "EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.run_id AND t.key = ?)"
            )
            args.append(key)
    if label is not None:
        conditions.append(
            "EXISTS (SELECT 1 FROM labels l WHERE l.run_id = r.run_id"
            " AND l.label = ? AND l.present)"
        )
        args.append(label)
    if node is not None:
        sql, filter_args = compile_filter(node, STATUS_SQL)
        conditions.append(sql)
        args.extend(filter_args)
    where_sql = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    (total,) = conn.execute(f"SELECT count(*) FROM runs r{where_sql}", args).fetchone()
    sql = RUN_SELECT + where_sql + order
    all_args = [*args, *order_args]
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        all_args.extend((-1 if limit is None else limit, offset))
    runs = [run_dict(row) for row in conn.execute(sql, all_args).fetchall()]
    attach_tags(conn, runs)
    return {"runs": runs, "total": int(total), "limit": limit, "offset": offset}


def refresh_dead(conn: sqlite3.Connection) -> None:
    """Fill ``temp.dead_runs`` (what STATUS_SQL reads) with the runs whose owner died."""
    dead = dead_runs(conn)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS dead_runs (run_id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.dead_runs")
    conn.executemany("INSERT INTO temp.dead_runs VALUES (?)", [(d,) for d in dead])


def attach_tags(conn: sqlite3.Connection, runs: list[dict[str, Any]]) -> None:
    """Set ``tags`` and ``labels`` of each run dict (two queries for the whole page)."""
    if not runs:
        return
    by_id = {run["id"]: run for run in runs}
    for run in runs:
        run["tags"], run["labels"] = {}, []
    ids = json.dumps(list(by_id))
    for run_id, key, value in conn.execute(
        "SELECT run_id, key, value FROM tags WHERE run_id IN (SELECT value FROM json_each(?))"
        " ORDER BY run_id, key",
        (ids,),
    ):
        by_id[run_id]["tags"][key] = jsonable(loads(value))
    for run_id, label in conn.execute(
        "SELECT run_id, label FROM labels WHERE present AND run_id IN"
        " (SELECT value FROM json_each(?)) ORDER BY run_id, label",
        (ids,),
    ):
        by_id[run_id]["labels"].append(label)


def _order(sort: str | None) -> tuple[str, list[Any]]:
    if sort is None or not sort.strip():
        return " ORDER BY coalesce(r.start_time, 0) DESC, r.run_id", []
    terms: list[str] = []
    args: list[Any] = []
    for raw in sort.split(","):
        item = raw.strip()
        descending = item.startswith("-")
        item = item.lstrip("-+").strip()
        head, dot, key = item.partition(".")
        kind = _SORT_KEYED.get(head.lower())
        if kind is not None and key:
            field: tuple[str, ...] = (kind, key)
        elif head.lower() in _SORTABLE and not dot:
            field = (head.lower(),)
        else:
            raise InvalidQueryError(
                f"cannot sort by {item!r}; use {', '.join(_SORTABLE)},"
                " params.KEY, summary.KEY or tags.KEY (prefix '-' for descending)"
            )
        # NULLs (runs without the field) last in both directions; the expression is used
        # twice, so its parameters are bound twice.
        expression = field_sql(field, STATUS_SQL, args)
        field_sql(field, STATUS_SQL, args)
        terms.append(f"{expression} IS NULL, {expression} {'DESC' if descending else 'ASC'}")
    return " ORDER BY " + ", ".join(terms) + ", r.run_id", args
