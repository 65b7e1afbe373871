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
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    default=None,
    help="With --to: the embedded store whose runs to push (default: $TRAINWIRE_DB"
    " or ./trainwire.db).",
)
def sync(path: Path | None, endpoint: str | None, force: bool, db_path: Path | None) -> None:
    """Ship runs' spooled data: offline runs, crashed runs, finish() that timed out.

    PATH is a run directory or a directory of them (default: $TRAINWIRE_DIR or
    ./trainwire-runs). A run that died without finishing is ended `crashed`.
    With --to, the runs of the embedded store are pushed to that collector too.
    """
    root = path or Path(settings.RUNS_DIR.get())
    run_dirs = find_run_dirs(root)
    failed = 0 if run_dirs else _nothing(root)
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
    if endpoint:
        failed += _push(db_path or Path(settings.DB_PATH.get()), endpoint)
    if failed:
        raise SystemExit(1)


def _nothing(root: Path) -> int:
    click.echo(f"no spooled runs in {root}")
    return 0


def _push(db_path: Path, endpoint: str) -> int:
    """Push the embedded store's runs; return 1 on failure (0 if there is no store)."""
    if not db_path.exists():
        return 0
    from trainwire.push import push_store

    try:
        pushed = push_store(db_path, endpoint)
    except (TrainwireError, ConfigError) as exc:
        click.echo(f"{db_path}: not pushed: {exc}", err=True)
        return 1
    blobs = f" and {pushed.blobs} artifact blobs" if pushed.blobs else ""
    click.echo(
        f"{db_path}: pushed {pushed.runs} runs ({pushed.requests} requests){blobs} to {endpoint}"
    )
    return 0
