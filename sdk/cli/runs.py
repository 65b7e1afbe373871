"""``trainwire runs`` and ``trainwire show``: find runs in a store file and look at one."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from trainwire.cli._common import (
    db_option,
    duration_text,
    number,
    open_client,
    status_text,
    store_path,
    when,
)

__all__ = ["run_duration", "runs"]

_METRICS_IN_TABLE = 3
_STATUSES = ("running", "completed", "failed", "killed", "crashed")
_CSV_COLUMNS = (
    "id",
    "name",
    "experiment",
    "group",
    "status",
    "started_at",
    "ended_at",
    "duration_s",
    "host",
    "world_size",
    "tags",
    "labels",
)


@click.command()
@db_option
@click.option("--experiment", "-e", default=None, help="Only runs of this experiment.")
@click.option(
    "--status", "-s", type=click.Choice(_STATUSES), default=None, help="Only this status."
)
@click.option("--tag", "-t", default=None, metavar="KEY[=VALUE]", help="Only runs with this tag.")
@click.option("--label", "-l", default=None, help="Only runs with this label.")
@click.option(
    "--where",
    "-w",
    default=None,
    metavar="EXPR",
    help='Filter on params and summaries, e.g. "params.lr < 0.01 and summary.acc > 0.9".',
)
@click.option(
    "--sort",
    default=None,
    metavar="FIELDS",
    help="Comma-separated fields, '-' first for descending, e.g. -summary.acc,name"
    " (default: newest first).",
)
@click.option("--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON (the API's body).")
@click.option("--csv", "as_csv", is_flag=True, help="Print the runs as CSV.")
def runs(
    db_path: Path | None,
    experiment: str | None,
    status: str | None,
    tag: str | None,
    label: str | None,
    where: str | None,
    sort: str | None,
    limit: int,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List runs, newest first, with the latest value of a few metrics.

    \b
    trainwire runs -e vision --status completed
    trainwire runs --where "params.lr < 0.01 and summary.val_acc > 0.9" --sort -summary.val_acc
    """
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    filters = {"experiment": experiment, "status": status, "tag": tag, "label": label}
    with open_client(db_path) as client:
        body = client.runs_page(**filters, where=where, sort=sort, limit=limit)
        if as_json:
            click.echo(json.dumps(body, indent=2))
            return
        if as_csv:
            _write_csv(body["runs"], _params_and_summaries(store_path(db_path), body["runs"]))
            return
        latest = _latest(store_path(db_path), [run["id"] for run in body["runs"]])
    filtered = any(v is not None for v in (*filters.values(), where))
    _print_table(body, latest, store_path(db_path), filtered=filtered)


def _latest(path: Path, run_ids: list[str]) -> dict[str, str]:
    """A few latest logged metric values of each run, as ``key=value`` text."""
    from trainwire.exporters.sqlite import StoreReader

    with StoreReader(path) as store:
        shown = {}
        for run_id in run_ids:
            values = list(store.latest_metrics(run_id).items())[:_METRICS_IN_TABLE]
            shown[run_id] = " ".join(f"{k}={number(v.value)}" for k, v in values)
    return shown


def _print_table(
    body: dict[str, Any], latest: dict[str, str], path: Path, *, filtered: bool
) -> None:
    records = body["runs"]
    if not records:
        click.echo("no runs match these filters" if filtered else "no runs yet")
        return
    more = f" (showing {len(records)} of {body['total']})" if body["total"] > len(records) else ""
    table = Table(title=f"runs in {path}{more}", title_justify="left")
    for column in ("id", "name", "experiment", "status", "start", "duration", "metrics"):
        table.add_column(column, overflow="fold")
    for run in records:
        table.add_row(
            run["id"],
            run["name"],
            run["experiment"],
            status_text(run["status"]),
            when(run["start_time"]),
            run_duration(run),
            latest.get(run["id"], ""),
        )
    Console(width=max(120, Console().width)).print(table)


def _params_and_summaries(path: Path, records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each run's ``params.KEY`` and ``summary.KEY`` (explicit, else the metric's last value)."""
    from trainwire.exporters.sqlite import StoreReader

    extra: dict[str, dict[str, Any]] = {}
    with StoreReader(path) as store:
        for run in records:
            run_id = run["id"]
            summary = {k: v.value for k, v in store.latest_metrics(run_id).items()}
            summary.update(store.summary(run_id))
            extra[run_id] = {f"params.{k}": v for k, v in store.params(run_id).items()}
            extra[run_id].update({f"summary.{k}": v for k, v in summary.items()})
    return extra


def _write_csv(records: list[dict[str, Any]], extra: dict[str, dict[str, Any]]) -> None:
    """One row a run: its fields, then a column for every param and summary key of any run."""
    keys = {key for values in extra.values() for key in values}
    more = sorted(k for k in keys if k.startswith("params.")) + sorted(
        k for k in keys if k.startswith("summary.")
    )
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([*_CSV_COLUMNS, *more])
    for run in records:
        row = {**run, "tags": ";".join(f"{k}={v}" for k, v in run.get("tags", {}).items())}
        row["labels"] = ";".join(run.get("labels", []))
        values = extra.get(run["id"], {})
        writer.writerow(
            ["" if row.get(c) is None else row[c] for c in _CSV_COLUMNS]
            + [_cell(values.get(k)) for k in more]
        )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # nan, inf and full precision
    return value if isinstance(value, str) else json.dumps(value)


def run_duration(run: dict[str, Any]) -> str:
    """How long the run took (a running one: so far)."""
    return duration_text(
        None if run["status"] == "running" else run["duration_s"],
        start_time=run["start_time"],
        running=run["status"] == "running",
    )
