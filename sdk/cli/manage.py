"""``trainwire rename``, ``rm`` and ``gc``: change what the store holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from trainwire.cli._common import db_option, open_store, store_path

__all__ = ["gc", "rename", "rm"]


def _resolve(db_path: Path | None, ref: str) -> tuple[str, str, str]:
    """``(run_id, name, status)`` of the run ``ref`` names."""
    from trainwire.exporters.sqlite import StoreReader

    with StoreReader(store_path(db_path)) as reader:
        run = reader.run(reader.resolve(ref))
    return run.run_id, run.name, run.status


@click.command()
@db_option
@click.argument("run_ref", metavar="RUN")
@click.argument("name")
def rename(db_path: Path | None, run_ref: str, name: str) -> None:
    """Give RUN a new display name NAME (its id stays the same)."""
    from trainwire.exporters.sqlite.maintenance import rename_run

    with open_store(db_path) as conn:
        run_id, old, _ = _resolve(db_path, run_ref)
        try:
            rename_run(conn, run_id, name)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="NAME") from None
        namesakes = [
            row[0]
            for row in conn.execute(
                "SELECT run_id FROM runs WHERE name = ? AND run_id != ? ORDER BY run_id",
                (name, run_id),
            )
        ]
    click.echo(f"renamed {run_id}: {old} -> {name}")
    if namesakes:
        click.echo(
            f"note: {', '.join(namesakes)} {'is' if len(namesakes) == 1 else 'are'} also named"
            f" {name!r}; refer to these runs by id (or a unique prefix of one)",
            err=True,
        )


@click.command()
@db_option
@click.argument("run_refs", metavar="RUN...", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Remove runs that are still running too.")
@click.option(
    "--artifacts",
    "artifacts_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Artifact store (default: trainwire-artifacts/ beside the store file).",
)
@click.option(
    "--min-age",
    "min_age_s",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Keep blobs written less than this many seconds ago (`trainwire gc` takes them later).",
)
def rm(
    db_path: Path | None,
    run_refs: tuple[str, ...],
    yes: bool,
    force: bool,
    artifacts_dir: Path | None,
    min_age_s: float,
) -> None:
    """Remove runs with all their data, and the artifact blobs no other run references.

    RUN is a run id, a unique prefix of one, or a run name.
    """
    from trainwire.exporters.sqlite.gc import collect_garbage
    from trainwire.exporters.sqlite.maintenance import remove_run

    path = store_path(db_path)
    with open_store(db_path) as conn:
        targets = [_resolve(db_path, ref) for ref in run_refs]
        running = [f"{name} ({run_id})" for run_id, name, status in targets if status == "running"]
        if running and not force:
            raise click.ClickException(
                f"{', '.join(running)} still running; wait for it to end, or pass --force"
            )
        shown = ", ".join(f"{name} ({run_id})" for run_id, name, _ in targets)
        if not yes:
            click.confirm(f"remove {shown} from {path}?", abort=True)
        blobs = artifacts_dir or _default_artifacts(path)
        for run_id, name, _ in targets:
            removed = remove_run(conn, run_id)
            gc = collect_garbage(conn, blobs, only=removed.sha256s, min_age_s=min_age_s)
            notes = [f"{len(gc.removed)} artifact blobs deleted"]
            if gc.kept:
                notes.append(f"{gc.kept} kept (other runs reference them)")
            if gc.spared_recent:
                notes.append(f"{len(gc.spared_recent)} kept for now (newer than {min_age_s:g} s)")
            click.echo(f"removed {name} ({run_id}): {removed.rows} rows, " + ", ".join(notes))


@click.command()
@db_option
@click.option(
    "--artifacts",
    "artifacts_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Artifact store (default: from --config, else trainwire-artifacts/ beside the store).",
)
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="A sqlite exporter's queue file, or a storage directory holding queue-sqlite*.db;"
    " blobs whose ml.artifact event waits there are spared. Repeatable.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="The collector's config: take the artifact store and queue files from it.",
)
@click.option(
    "--min-age",
    "min_age_s",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Spare blobs written less than this many seconds ago (their event may be in flight).",
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def gc(
    db_path: Path | None,
    artifacts_dir: Path | None,
    queues: tuple[Path, ...],
    config_path: Path | None,
    min_age_s: float,
    dry_run: bool,
) -> None:
    """Delete artifact blobs that no run in the store references.

    Blobs whose ml.artifact event is still queued for the store are kept.
    """
    from trainwire.exporters.sqlite.gc import collect_garbage, queued_blobs

    path = store_path(db_path)
    queue_files = [f for q in queues for f in _queue_files(q)]
    if config_path is not None:
        config_blobs, config_queues = _from_config(config_path, path)
        artifacts_dir = artifacts_dir or config_blobs
        queue_files += config_queues
    blobs = artifacts_dir or _default_artifacts(path)
    with open_store(db_path) as conn:
        if not blobs.is_dir():
            raise click.ClickException(
                f"no artifact store at {blobs}; pass --artifacts DIR (the collector's"
                " receivers::otlp::artifacts::directory) or --config otel-config.yaml"
            )

        def read_queues() -> set[str]:
            try:
                return queued_blobs(queue_files)
            except (OSError, sqlite3.DatabaseError) as exc:
                raise click.ClickException(f"cannot read a queue file: {exc}") from None

        result = collect_garbage(
            conn,
            blobs,
            queued=read_queues(),
            min_age_s=min_age_s,
            dry_run=dry_run,
            requeued=read_queues if queue_files else None,
        )
    verb = "would delete" if dry_run else "deleted"
    for sha256, size in result.removed.items():
        click.echo(f"{verb} {sha256} ({size} bytes)")
    click.echo(
        f"{verb} {len(result.removed)} unreferenced blobs ({result.freed_bytes} bytes);"
        f" kept {result.kept} referenced, {len(result.spared_queued)} queued,"
        f" {len(result.spared_recent)} newer than {min_age_s:g} s"
    )


def _default_artifacts(db: Path) -> Path:
    return db.resolve().parent / "trainwire-artifacts"  # the embedded default's place


def _queue_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(path.glob("queue-sqlite*.db"))
    return [path]


def _from_config(config_path: Path, db: Path) -> tuple[Path | None, list[Path]]:
    """The artifact directory and the queue files of the sqlite exporters writing ``db``."""
    from trainwire.collector.component import ComponentID, Kind
    from trainwire.collector.components import default_factories
    from trainwire.collector.config import load_config
    from trainwire.collector.extensions.storage import StorageExtension
    from trainwire.errors import ConfigError

    try:
        config = load_config(config_path, default_factories(), require_receivers=False)
    except ConfigError as exc:
        raise click.ClickException(f"{config_path}: {exc}") from None
    artifacts = None
    for receiver in config.components.get(Kind.RECEIVER, {}).values():
        settings = getattr(receiver, "artifacts", None)
        if settings is not None and getattr(settings, "enabled", False):
            artifacts = Path(settings.directory).expanduser()
    queues = []
    extensions = config.components.get(Kind.EXTENSION, {})
    for cid, exporter in config.components.get(Kind.EXPORTER, {}).items():
        if cid.type != "sqlite" or Path(exporter.path).expanduser().resolve() != db.resolve():
            continue
        api = getattr(exporter, "api", None)
        if api is not None and api.artifacts_directory:  # where the query API serves blobs from
            artifacts = artifacts or Path(api.artifacts_directory).expanduser()
        queue = exporter.sending_queue
        storage = extensions.get(ComponentID.parse(queue.storage)) if queue.enabled else None
        if storage is not None:
            candidate = StorageExtension(storage, id=cid).queue_path(cid)
            if candidate.exists():
                queues.append(candidate)
    return artifacts, queues
