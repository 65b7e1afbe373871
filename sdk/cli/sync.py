"""``trainwire sync``: ship what runs left behind in their spools."""

from __future__ import annotations

from pathlib import Path

import click

from trainwire import settings
from trainwire.errors import ConfigError, TrainwireError
from trainwire.sync import find_run_dirs, sync_run

__all__ = ["sync"]


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--to", "endpoint", default=None, help="Send to this collector (host:port) instead.")
@click.option("--force", is_flag=True, help="Sync even a run whose process still seems alive.")
def sync(path: Path | None, endpoint: str | None, force: bool) -> None:
    """Ship runs' spooled data: offline runs, crashed runs, finish() that timed out.

    PATH is a run directory or a directory of them (default: $TRAINWIRE_DIR or
    ./trainwire-runs). A run that died without finishing is ended `crashed`.
    """
    root = path or Path(settings.RUNS_DIR.get())
    run_dirs = find_run_dirs(root)
    if not run_dirs:
        click.echo(f"nothing to sync in {root}")
        return
    failed = 0
    for run_dir in run_dirs:
        try:
            result = sync_run(run_dir, to=endpoint, force=force)
        except (TrainwireError, ConfigError) as exc:
            failed += 1
            click.echo(f"{run_dir.name}: not synced: {exc}", err=True)
            continue
        crashed = " (ended crashed: it never finished)" if result.marked_crashed else ""
        left = f", {result.left} left" if result.left else ""
        if result.artifacts_delivered or result.artifacts_left:
            left += f", {result.artifacts_delivered} artifacts uploaded"
            left += f" ({result.artifacts_left} left)" if result.artifacts_left else ""
        click.echo(f"{result.run_id}: shipped {result.shipped} requests{left}{crashed}")
    if failed:
        raise SystemExit(1)
