"""Store one request with a StoreWriter, setting aside what the store cannot hold.

Shared by the exporter's writer thread and its writer process (``writer_process.py``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from trainwire.errors import CorruptStoreError, PermanentExportError
from trainwire.exporters.sqlite.writer import StoreWriter

__all__ = ["Stored", "store"]

# Failures that depend on the data, not on the moment: retrying the same request cannot help.
DATA_ERRORS = (
    OverflowError,
    ValueError,
    TypeError,
    RecursionError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.ProgrammingError,  # e.g. a map bound where a scalar goes
    sqlite3.InterfaceError,
    CorruptStoreError,  # a re-sent point meets a damaged chunk: that resource only
)


@dataclass(frozen=True)
class Stored:
    """What one request added to the store."""

    written: int
    """New points, log records or spans (a re-sent one is not new)."""
    dropped: str | None = None
    """Why some resources were left out, when some were."""


def store(writer: StoreWriter, signal: str, request: Any) -> Stored:
    """Commit ``request`` (a ``signal`` request) in one transaction.

    Data the store cannot hold (a time past SQLite's integer range, say) would fail the
    same way on every retry and block the queue behind it for good; so such a request is
    written again one resource at a time, and only the resources that still fail are
    left out (PermanentExportError when none could be stored). ``sqlite3.OperationalError``
    (locked, disk full) propagates: it is worth retrying.
    """
    write = getattr(StoreWriter, f"write_{signal}")
    try:
        return Stored(write(writer, request))
    except DATA_ERRORS:
        pass
    field = request.DESCRIPTOR.fields_by_number[1].name  # resource_metrics, ...
    entries = getattr(request, field)
    written, failures = 0, []
    for entry in entries:
        single = type(request)()
        getattr(single, field).append(entry)
        try:
            written += write(writer, single)
        except DATA_ERRORS as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
    if not failures:
        return Stored(written)
    message = (
        f"dropped {len(failures)} of {len(entries)} resources of a {signal} request"
        f" that the store cannot hold ({failures[0]})"
    )
    if len(failures) == len(entries):
        raise PermanentExportError(message)
    return Stored(written, message)
