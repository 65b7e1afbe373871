"""``trainwire export``: one run to files (JSON Lines, CSV, or whirr's run directory)."""

from __future__ import annotations

from pathlib import Path

import click

from trainwire.cli._common import db_option, open_store, store_path

__all__ = ["export"]

_FORMATS = ("jsonl", "csv", "whirr")


@click.command()
@db_option
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--format",
    "-f",
    "format_",
    type=click.Choice(_FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl: run.json + metrics.jsonl; csv: run.json + metrics.csv;"
    " whirr: meta.json, config.json, metrics.jsonl.",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(path_type=Path, dir_okay=True),
    default=None,
    help="Folder to write (default: ./<run id>).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def export(
    db_path: Path | None, run_ref: str, format_: str, output: Path | None, quiet: bool
) -> None:
    """Write RUN's metadata and every logged metric point into a folder.

    RUN is a run id, a unique prefix of one, or a run name.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from trainwire.exporters.sqlite import StoreReader
    from trainwire.exporters.sqlite.export import export_run

    if output is not None and output.exists() and not output.is_dir():
        raise click.BadParameter(f"{output} is a file; give a folder", param_hint="-o")
    with open_store(db_path) as conn, StoreReader(store_path(db_path)) as reader:
        run_id = reader.resolve(run_ref)
        directory = output or Path(run_id)
        with Progress(
            TextColumn("exporting points"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=(console := Console(stderr=True)),
            disable=quiet or not console.is_terminal,
            transient=True,
        ) as bar:
            task = bar.add_task("export", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            files = export_run(reader, conn, run_id, directory, format=format_, progress=progress)
    click.echo(f"exported {run_id} ({format_}) to {directory}: " + ", ".join(f.name for f in files))
