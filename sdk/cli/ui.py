"""``trainwire ui``: serve the query API (and a page listing runs) over a store file."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from trainwire import settings

if TYPE_CHECKING:
    from trainwire.exporters.sqlite.api import ApiServer

__all__ = ["ui"]


@click.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Run store file (default: $TRAINWIRE_DB or ./trainwire.db).",
)
@click.option("--host", default="localhost", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--read-token",
    envvar="TRAINWIRE_READ_TOKEN",
    default=None,
    help="Require 'Authorization: Bearer TOKEN' (or set TRAINWIRE_READ_TOKEN).",
)
@click.option(
    "--artifacts",
    "artifacts_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Artifact store to serve blobs from (default: trainwire-artifacts/ beside the store).",
)
def ui(
    db_path: Path | None,
    host: str,
    port: int,
    read_token: str | None,
    artifacts_dir: Path | None,
) -> None:
    """Serve the HTTP query API (GET /api/runs, ...) and a page of runs at /."""
    try:
        from trainwire.exporters.sqlite.api import ApiServer
    except ImportError as exc:  # aiohttp is in the server extra
        raise click.ClickException(
            f"trainwire ui needs the server extra: pip install 'trainwire[server]' ({exc})"
        ) from None
    path = db_path or Path(settings.DB_PATH.get())
    if not path.exists():
        raise click.ClickException(
            f"no trainwire store at {path}; run a training script first, or pass --db PATH"
        )
    endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    server = ApiServer(
        path, endpoint=endpoint, read_token=read_token or None, artifacts_dir=artifacts_dir
    )
    try:
        asyncio.run(_serve(server))
    except OSError as exc:
        raise click.ClickException(str(exc)) from None


async def _serve(server: ApiServer) -> None:
    await server.start()
    shown = "localhost" if server.endpoint.startswith(("0.0.0.0", "[::]")) else None
    host = shown or server.endpoint.rpartition(":")[0].strip("[]")
    click.echo(f"trainwire ui: serving {server.db_path} on http://{host}:{server.port}/", err=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
