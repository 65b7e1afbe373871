"""``trainwire export``: one run to files (JSON Lines, CSV, or whirr's run directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
@click.option(
    "--with-artifacts",
    is_flag=True,
    help="Also copy every artifact's bytes into artifacts/NAME in the folder.",
)
@click.option(
    "--artifacts",
    "artifacts_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The artifact store to copy from (implies --with-artifacts; default:"
    " trainwire-artifacts/ beside the store; a collector's is its artifacts directory).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def export(
    db_path: Path | None,
    run_ref: str,
    format_: str,
    output: Path | None,
    with_artifacts: bool,
    artifacts_dir: Path | None,
    quiet: bool,
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
            TextColumn("exporting {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=(console := Console(stderr=True)),
            disable=quiet or not console.is_terminal,
            transient=True,
        ) as bar:
            task = bar.add_task("points", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            files = export_run(reader, conn, run_id, directory, format=format_, progress=progress)
            names = [f.name for f in files]
            if with_artifacts or artifacts_dir is not None:
                copied = _copy_artifacts(db_path, artifacts_dir, run_id, directory, bar)
                names.append(f"artifacts/ ({copied})")
    click.echo(f"exported {run_id} ({format_}) to {directory}: " + ", ".join(names))


def _copy_artifacts(
    db_path: Path | None, artifacts_dir: Path | None, run_id: str, directory: Path, bar: Any
) -> int:
    """Copy the run's artifacts (latest version of each name) under ``directory/artifacts``.

    Every one is tried; those whose blob is missing or damaged are named together at the end.
    """
    from trainwire.client import Client
    from trainwire.errors import ArtifactNotFoundError, CorruptArtifactError

    failed: list[str] = []
    with Client(store_path(db_path), artifacts_dir=artifacts_dir) as client:
        listed = client.artifacts(run_id)
        task = bar.add_task("artifacts", total=sum(int(a["size"]) for a in listed))
        done = 0
        for artifact in listed:
            name = artifact["name"]

            def progress(sent: int, total: int | None, base: int = done) -> None:
                bar.update(task, completed=base + sent)

            try:
                client.download_artifact(
                    run_id, name, directory / "artifacts" / name, progress=progress
                )
            except (ArtifactNotFoundError, CorruptArtifactError) as exc:
                failed.append(f"{name}: {exc}")
            done += int(artifact["size"])
    if failed:
        raise click.ClickException(
            f"{len(failed)} of {len(listed)} artifacts could not be copied"
            + (" (the others were)" if len(failed) < len(listed) else "")
            + ":\n  "
            + "\n  ".join(failed)
            + "\ngive the artifact store with --artifacts DIR if it is not beside the store"
        )
    return len(listed)
