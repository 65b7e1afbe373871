"""What every store command shares: ``--db``, opening the store, run references, formatting."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from trainwire import settings
from trainwire.errors import (
    ArtifactNotFoundError,
    CorruptStoreError,
    InvalidQueryError,
    RunNotFoundError,
)

if TYPE_CHECKING:
    from trainwire.client import Client

__all__ = [
    "db_option",
    "duration_text",
    "git_text",
    "number",
    "open_client",
    "open_store",
    "status_text",
    "store_path",
    "when",
]

_STATUS_STYLE = {
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "crashed": "red",
    "killed": "yellow",
}

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Run store file (default: $TRAINWIRE_DB or ./trainwire.db).",
)


def store_path(db_path: Path | None) -> Path:
    """The store file the user means; a clear error if there is none."""
    path = db_path or Path(settings.DB_PATH.get())
    if not path.exists():
        raise click.ClickException(
            f"no trainwire store at {path}; run a training script first,"
            " or pass --db PATH (or set TRAINWIRE_DB)"
        )
    return path


@contextmanager
def open_client(db_path: Path | None) -> Iterator[Client]:
    """A :class:`~trainwire.Client` on the store; lookup and query errors become CLI errors."""
    from trainwire.client import Client

    path = store_path(db_path)
    try:
        client = Client(path)
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(_not_a_store(path, exc)) from None
    with client, cli_errors():
        yield client


@contextmanager
def open_store(db_path: Path | None) -> Iterator[sqlite3.Connection]:
    """A read-write connection to the store (for rename, rm, gc, export)."""
    from trainwire.exporters.sqlite.schema import connect

    path = store_path(db_path)
    try:
        conn = connect(path)
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(_not_a_store(path, exc)) from None
    try:
        with cli_errors():
            yield conn
    finally:
        conn.close()


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn unknown runs and artifacts (exit 1) and bad queries (exit 2) into CLI errors."""
    try:
        yield
    except (RunNotFoundError, ArtifactNotFoundError, CorruptStoreError) as exc:
        raise click.ClickException(str(exc)) from None
    except InvalidQueryError as exc:
        raise click.UsageError(str(exc)) from None


def _not_a_store(path: Path, exc: sqlite3.DatabaseError) -> str:
    return f"{path}: {exc}; is it a trainwire store? Pass --db PATH of one (e.g. trainwire.db)"


def status_text(status: str) -> str:
    """The status in its colour."""
    style = _STATUS_STYLE.get(status, "white")
    return f"[{style}]{status}[/{style}]"


def when(time_ns: int | None) -> str:
    """A store time (Unix ns) as local ``YYYY-MM-DD HH:MM:SS``."""
    if not time_ns:
        return "-"
    return dt.datetime.fromtimestamp(time_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def duration_text(seconds: float | None, *, start_time: int | None = None, running: bool) -> str:
    """Seconds as ``1h02m``, ``3m04.5s`` or ``1.23s``; a running run counts up to now."""
    if seconds is None and start_time and running:
        seconds = max(0.0, time.time() - start_time / 1e9)
    if seconds is None:
        return "-"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:04.1f}s" if minutes else f"{secs:.2f}s"


_JSON_SPECIAL = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}


def number(value: Any) -> str:
    """A metric value, short; NaN and infinities spelled out (also as the API's strings)."""
    if isinstance(value, str) and value in _JSON_SPECIAL:
        return _JSON_SPECIAL[value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    if math.isnan(value) or math.isinf(value):
        return str(float(value))
    return f"{value:.6g}"


def git_text(git: Any) -> str:
    """A run's git record as ``branch@commit`` (12 hex digits), ``+dirty`` when it was."""
    if not isinstance(git, dict) or not git.get("commit"):
        return "-"
    text = str(git["commit"])[:12]
    if git.get("branch"):
        text = f"{git['branch']}@{text}"
    return text + ("+dirty" if git.get("dirty") else "")
