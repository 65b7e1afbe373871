"""``trainwire metrics``, ``artifacts`` and ``download``: a run's points and files."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from trainwire.cli._common import db_option, number, open_client, when
from trainwire.cli.show import artifact_table, size_text
from trainwire.errors import ArtifactNotFoundError

__all__ = ["artifacts", "download", "metrics"]


@click.command()
@db_option
@click.argument("run_ref", metavar="RUN")
@click.argument("key", required=False)
@click.option(
    "--csv", "as_csv", is_flag=True, help="Print every point as CSV (key,step,time,value)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's metrics body as JSON.")
@click.option("--from-step", type=int, default=None, help="First step (inclusive).")
@click.option("--to-step", type=int, default=None, help="Last step (inclusive).")
@click.option(
    "--max-points",
    type=click.IntRange(min=1),
    default=None,
    help="Downsample each series to about this many points (keeps min/max shape).",
)
@click.option("--system", is_flag=True, help="Include system and OpenTelemetry metrics.")
def metrics(
    db_path: Path | None,
    run_ref: str,
    key: str | None,
    as_csv: bool,
    as_json: bool,
    from_step: int | None,
    to_step: int | None,
    max_points: int | None,
    system: bool,
) -> None:
    """Print RUN's metric points: one metric (KEY) or all that the script logged.

    Without KEY, --csv or --json: one line per metric (last value, min, max, points).
    """
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    query = {"from_step": from_step, "to_step": to_step, "max_points": max_points}
    with open_client(db_path) as client:
        if as_json:
            click.echo(json.dumps(client.series(run_ref, key, **query), indent=2))
            return
        points = client.metrics(run_ref, key, **query)
        run_id = client.run(run_ref)["id"]
    if not system and key is None:
        points = [p for p in points if p["source"] == "logged"]
    if not points:
        what = f"no metric {key!r}" if key else "no metrics"
        raise click.ClickException(
            f"run {run_id} has {what}"
            + ("" if key is None else f"; `trainwire metrics {run_ref}` lists the ones it has")
        )
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["key", "step", "time", "value"])
        for p in points:
            step = "" if p["step"] is None else p["step"]
            writer.writerow([p["key"], step, p["time"], repr(float(p["value"]))])
        return
    console = Console(width=max(100, Console().width))
    console.print(_points_table(points) if key else _overview_table(points))


def _points_table(points: list[dict[str, object]]) -> Table:
    table = Table(title=str(points[0]["key"]), title_justify="left")
    for column in ("step", "time", "value"):
        table.add_column(column, justify="right")
    for p in points:
        step = "" if p["step"] is None else str(p["step"])
        table.add_row(step, when(p["time"]), number(p["value"]))  # type: ignore[arg-type]
    return table


def _overview_table(points: list[dict[str, object]]) -> Table:
    series: dict[str, list[dict[str, object]]] = {}
    for p in points:
        series.setdefault(str(p["key"]), []).append(p)
    table = Table(title="metrics", title_justify="left")
    for column in ("metric", "last", "step", "min", "max", "points"):
        table.add_column(column)
    for name, items in series.items():
        values = [float(p["value"]) for p in items if p["value"] == p["value"]]  # type: ignore[arg-type]
        last = items[-1]
        table.add_row(
            name,
            number(last["value"]),
            "" if last["step"] is None else str(last["step"]),
            number(min(values)) if values else "-",
            number(max(values)) if values else "-",
            str(len(items)),
        )
    return table


@click.command()
@db_option
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the artifacts as JSON.")
def artifacts(db_path: Path | None, run_ref: str, as_json: bool) -> None:
    """List RUN's artifacts (the latest version of each name)."""
    with open_client(db_path) as client:
        items = client.artifacts(run_ref)
        run_id = client.run(run_ref)["id"]
    if as_json:
        click.echo(json.dumps(items, indent=2))
    elif not items:
        click.echo(f"run {run_id} has no artifacts")
    else:
        Console(width=max(120, Console().width)).print(artifact_table(items))


@click.command()
@db_option
@click.argument("run_ref", metavar="RUN")
@click.argument("name")
@click.option(
    "--output",
    "-o",
    type=click.Path(),
    default=None,
    help="File, or folder (existing, or ending in '/') to write it in (default: here).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def download(
    db_path: Path | None, run_ref: str, name: str, output: str | None, quiet: bool
) -> None:
    """Download artifact NAME of RUN, checked against its sha256."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    with (
        open_client(db_path) as client,
        Progress(
            TextColumn(name),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            disable=quiet or not console.is_terminal,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("download", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        try:
            path = client.download_artifact(run_ref, name, output or ".", progress=progress)
        except ArtifactNotFoundError as exc:
            raise click.ClickException(
                f"{exc}; `trainwire artifacts {run_ref}` lists the ones it has"
            ) from None
    click.echo(f"downloaded {name} ({size_text(path.stat().st_size)}) to {path}")
