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
    git_text,
    number,
    open_client,
    status_text,
    store_path,
    when,
)

__all__ = ["runs", "show"]

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
            _duration(run),
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


@click.command()
@db_option
@click.argument("run_ref", metavar="RUN")
def show(db_path: Path | None, run_ref: str) -> None:
    """Show one run: status, params, tags, summary, metrics, artifacts and alerts.

    RUN is a run id, a unique prefix of one, or a run name.
    """
    with open_client(db_path) as client:
        run = client.run(run_ref)
        artifacts = client.artifacts(run["id"])
        alerts = client.events(run["id"], name="ml.alert")
    other = _other_metrics(store_path(db_path), run["id"])
    console = Console(width=max(100, Console().width))
    console.print(f"[bold]{run['name']}[/bold]  ({run['id']})")
    console.print(
        f"experiment {run['experiment']}   status {status_text(run['status'])}   "
        f"start {when(run['start_time'])}   duration {_duration(run)}"
    )
    facts = {
        "host": run.get("host"),
        "world size": run.get("world_size"),
        "group": run.get("group"),
        "git": git_text(run.get("git")) if run.get("git") else None,
        "exit code": run.get("exit_code"),
    }
    shown = [f"{key} {value}" for key, value in facts.items() if value is not None]
    if shown:
        console.print("   ".join(shown), markup=False)
    if run.get("exception"):
        console.print(f"[red]{run['exception']['type']}: {run['exception']['message']}[/red]")
    if run.get("labels"):
        console.print("labels " + ", ".join(run["labels"]))
    for title in ("params", "tags", "summary"):
        if run.get(title):
            console.print(_kv_table(title, run[title]))
    if run.get("metrics"):
        table = Table(title="metrics", title_justify="left")
        nans = any(m.get("nan_count") for m in run["metrics"].values())
        columns = ("metric", "value", "step", "min", "max", "best", "points", "NaN")
        for column in columns[: len(columns) if nans else -1]:
            table.add_column(column)
        for key, m in run["metrics"].items():
            row = [
                key,
                number(m["last"]),
                "" if m["step"] is None else str(m["step"]),
                number(m["min"]),
                number(m["max"]),
                "" if m["best"] is None else f"{number(m['best'])} ({m['goal']})",
                str(m["count"]),
            ]
            table.add_row(*row, *([str(m.get("nan_count") or 0)] if nans else []))
        console.print(table)
    if len(run.get("ranks") or []) > 1:
        console.print(_ranks_table(run["ranks"]))
    if other:
        console.print(_kv_table("system and OpenTelemetry metrics (latest)", other))
    if artifacts:
        console.print(artifact_table(artifacts))
    if alerts:
        console.print(_alerts_table(alerts))


def _alerts_table(alerts: list[dict[str, Any]]) -> Table:
    table = Table(title="alerts", title_justify="left")
    for column in ("time", "level", "title", "text"):
        table.add_column(column, overflow="fold")
    for event in alerts:
        body = event["body"] if isinstance(event["body"], dict) else {"text": event["body"]}
        table.add_row(
            when(event["time"]),
            str(body.get("level") or "-"),
            str(body.get("title") or ""),
            str(body.get("text") or ""),
        )
    return table


def _ranks_table(ranks: list[dict[str, Any]]) -> Table:
    table = Table(title="ranks", title_justify="left")
    for column in ("rank", "status", "host", "pid", "ended", "exit code"):
        table.add_column(column)
    for r in ranks:
        table.add_row(
            str(r.get("rank")),
            status_text(str(r.get("status"))),
            str(r.get("host") or "-"),
            str(r.get("pid") or "-"),
            when(r.get("end_time")),
            "-" if r.get("exit_code") is None else str(r["exit_code"]),
        )
    return table


def artifact_table(artifacts: list[dict[str, Any]]) -> Table:
    """The artifacts of a run as a table."""
    table = Table(title="artifacts", title_justify="left")
    for column in ("name", "kind", "size", "type", "sha256", "created"):
        table.add_column(column, overflow="fold")
    for a in artifacts:
        table.add_row(
            a["name"],
            a["kind"],
            size_text(a["size"]),
            a["mime_type"],
            a["sha256"][:12],
            when(a["time"]),
        )
    return table


def size_text(size: int) -> str:
    """Bytes as ``512 B``, ``1.5 KiB``, ``3.2 MiB``..."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _other_metrics(path: Path, run_id: str) -> dict[str, str]:
    from trainwire.exporters.sqlite import StoreReader

    with StoreReader(path) as store:
        latest = store.latest_metrics(run_id, logged=False)
    return {k: number(v.value) for k, v in latest.items()}


def _kv_table(title: str, values: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key, value in values.items():
        table.add_row(key, value if isinstance(value, str) else json.dumps(value))
    return table


def _duration(run: dict[str, Any]) -> str:
    return duration_text(
        None if run["status"] == "running" else run["duration_s"],
        start_time=run["start_time"],
        running=run["status"] == "running",
    )
