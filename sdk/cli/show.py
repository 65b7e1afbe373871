"""``trainwire show``: one run in full (where it ran, params, metrics, artifacts, alerts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from trainwire.cli._common import (
    db_option,
    git_text,
    number,
    open_client,
    status_text,
    store_path,
    when,
)
from trainwire.cli.runs import run_duration

__all__ = ["artifact_table", "show", "size_text"]


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
        f"start {when(run['start_time'])}   duration {run_duration(run)}"
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
