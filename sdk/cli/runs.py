"""``trainwire runs`` and ``trainwire show``: read runs from a store file."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from trainwire import settings
from trainwire.errors import RunNotFoundError

if TYPE_CHECKING:
    from trainwire.exporters.sqlite import RunRecord, StoreReader

__all__ = ["runs", "show"]

_STATUS_STYLE = {
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "crashed": "red",
    "killed": "yellow",
}
_METRICS_IN_TABLE = 3

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Run store file (default: $TRAINWIRE_DB or ./trainwire.db).",
)


def _open(db_path: Path | None) -> StoreReader:
    from trainwire.exporters.sqlite import StoreReader

    try:
        return StoreReader(db_path or Path(settings.DB_PATH.get()))
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@db_option
@click.option("--experiment", "-e", default=None, help="Only runs of this experiment.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True)
def runs(db_path: Path | None, experiment: str | None, limit: int) -> None:
    """List runs, newest first, with the latest value of a few metrics."""
    with _open(db_path) as store:
        records = store.runs(experiment=experiment, limit=limit)
        table = Table(title=f"runs in {store.path}", title_justify="left")
        for column in ("id", "name", "experiment", "status", "start", "duration", "metrics"):
            table.add_column(column, overflow="fold")
        for run in records:
            latest = store.latest_metrics(run.run_id)
            shown = " ".join(
                f"{k}={_number(v.value)}" for k, v in list(latest.items())[:_METRICS_IN_TABLE]
            )
            table.add_row(
                run.run_id,
                run.name,
                run.experiment,
                _status(run.status),
                _when(run.start_time),
                _duration(run),
                shown,
            )
    if not records:
        click.echo("no runs yet")
        return
    Console(width=max(120, Console().width)).print(table)


@click.command()
@db_option
@click.argument("run_ref", metavar="RUN")
def show(db_path: Path | None, run_ref: str) -> None:
    """Show one run: status, params, tags, summary, and every metric's latest value and step.

    RUN is a run id, a unique prefix of one, or a run name.
    """
    with _open(db_path) as store:
        try:
            run = store.run(store.resolve(run_ref))
        except RunNotFoundError as exc:
            raise click.ClickException(str(exc)) from None
        params, tags, labels = (
            store.params(run.run_id),
            store.tags(run.run_id),
            store.labels(run.run_id),
        )
        summary, latest = store.summary(run.run_id), store.latest_metrics(run.run_id)
        other = store.latest_metrics(run.run_id, logged=False)
    console = Console(width=max(100, Console().width))
    console.print(f"[bold]{run.name}[/bold]  ({run.run_id})")
    console.print(
        f"experiment {run.experiment}   status {_status(run.status)}   "
        f"start {_when(run.start_time)}   duration {_duration(run)}"
    )
    if run.exception_type or run.exception_message:
        console.print(f"[red]{run.exception_type}: {run.exception_message}[/red]")
    if labels:
        console.print("labels " + ", ".join(labels))
    for title, values in (("params", params), ("tags", tags), ("summary", summary)):
        if values:
            console.print(_kv_table(title, values))
    if latest:
        table = Table(title="metrics", title_justify="left")
        for column in ("metric", "value", "step"):
            table.add_column(column)
        for key, value in latest.items():
            table.add_row(key, _number(value.value), "" if value.step is None else str(value.step))
        console.print(table)
    if other:
        console.print(
            _kv_table(
                "system and OpenTelemetry metrics (latest)",
                {k: _number(v.value) for k, v in other.items()},
            )
        )


def _kv_table(title: str, values: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key, value in values.items():
        table.add_row(key, value if isinstance(value, str) else json.dumps(value))
    return table


def _status(status: str) -> str:
    style = _STATUS_STYLE.get(status, "white")
    return f"[{style}]{status}[/{style}]"


def _when(time_ns: int | None) -> str:
    if not time_ns:
        return "-"
    return dt.datetime.fromtimestamp(time_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def _duration(run: RunRecord) -> str:
    seconds = run.duration_s
    if seconds is None and run.start_time and run.status == "running":
        seconds = max(0.0, time.time() - run.start_time / 1e9)
    if seconds is None:
        return "-"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:04.1f}s" if minutes else f"{secs:.2f}s"


def _number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"
