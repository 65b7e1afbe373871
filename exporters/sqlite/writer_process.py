"""The store writer in a child process, so parsing and writing run beside ingestion.

In one process, receiving, queueing and storing share one interpreter lock and so one
core. Here the collector's process receives, decodes (for processors and liveness) and
queues, while a second interpreter parses the queued bytes again and writes them. A batch
travels as the bytes it was queued as: serialized requests of one type concatenate into
their merge, so the parent never parses or re-encodes it.

The child exits when its pipe closes, so a collector killed with -9 leaves no writer
behind once the child notices (at most the write in flight, which SQLite commits or rolls
back as one transaction).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from trainwire.errors import PermanentExportError, RetryableExportError

__all__ = ["WriterProcess"]

_START_TIMEOUT_S = 60.0


class WriterProcess:
    """A StoreWriter in a child process; ``write`` blocks, one call at a time."""

    def __init__(self, path: Path, *, name: str, sealing_cpu_share: float = 1.0) -> None:
        self._path = path
        self._name = name
        self._sealing_cpu_share = sealing_cpu_share
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the child and wait until it has opened (created or migrated) the store.

        Raises:
            sqlite3.DatabaseError: the child could not open the store (its message).
        """
        # spawn, not fork: the parent runs gRPC and asyncio threads a fork would copy mid-flight.
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, str(self._path), self._sealing_cpu_share),
            name=f"trainwire-{self._name}",
        )
        process.daemon = True
        process.start()
        child.close()
        if not parent.poll(_START_TIMEOUT_S):
            process.kill()
            raise RetryableExportError(f"{self._name}: the store writer process did not start")
        try:
            answer = parent.recv()
        except EOFError:
            process.join(5)
            raise RetryableExportError(
                f"{self._name}: the store writer process exited at start"
                f" (exit code {process.exitcode})"
            ) from None
        if answer[0] != "ready":
            process.join(5)
            raise sqlite3.DatabaseError(answer[1])
        self._conn, self._process = parent, process

    def write(self, signal: str, payload: bytes) -> tuple[int, int, str | None]:
        """Parse and commit ``payload`` (one or more serialized ``signal`` requests).

        Returns (new items written, items in the request, why some were left out or None).
        Raises RetryableExportError (store busy, or the child died: it is restarted on the
        next call), PermanentExportError (nothing in it can be stored) or RuntimeError (a
        bug in the child; the data stays queued).
        """
        with self._lock:
            if self._conn is None:
                self.start()
            assert self._conn is not None
            try:
                self._conn.send(("write", signal, payload))
                answer = self._conn.recv()
            except (EOFError, OSError) as exc:
                self._discard()
                raise RetryableExportError(
                    f"{self._name}: the store writer process died ({exc or 'pipe closed'});"
                    " restarting it",
                    retry_after_s=0.2,
                ) from exc
        kind = answer[0]
        if kind == "ok":
            result: tuple[int, int, str | None] = answer[1]
            return result
        if kind == "retry":
            raise RetryableExportError(f"{self._name}: {answer[1]}", retry_after_s=1.0)
        if kind == "refused":
            raise PermanentExportError(f"{self._name}: {answer[1]}")
        raise RuntimeError(f"{self._name}: the store writer process failed: {answer[1]}")

    def close(self) -> None:
        """Let the child finish and exit; safe twice."""
        with self._lock:
            conn, process = self._conn, self._process
            self._conn = self._process = None
        if conn is not None:
            try:
                conn.send(("close",))
            except OSError:
                pass
            conn.close()
        if process is not None:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join(5)

    def _discard(self) -> None:
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            conn.close()
        if process is not None:
            process.join(1)
            if process.is_alive():
                process.kill()


def _serve(conn: Connection, path: str, sealing_cpu_share: float) -> None:
    """The child: open the store, then parse and write each payload until told to stop."""
    from trainwire.collector.component import Signal
    from trainwire.collector.exporterhelper.requests import count_items, request_type
    from trainwire.exporters.sqlite.schema import connect
    from trainwire.exporters.sqlite.storing import store
    from trainwire.exporters.sqlite.writer import StoreWriter

    try:
        db = connect(path)
    except Exception as exc:  # shown to the parent, which reports it
        conn.send(("error", str(exc)))
        return
    writer = StoreWriter(db, sealing_cpu_share=sealing_cpu_share)
    conn.send(("ready",))
    while True:
        try:
            message: Any = conn.recv()
        except (EOFError, OSError):  # the collector is gone
            break
        if message[0] != "write":
            break
        _, signal, payload = message
        try:
            request = request_type(Signal(signal)).FromString(payload)
            stored = store(writer, signal, request)
            answer: tuple[Any, ...] = (
                "ok",
                (stored.written, count_items(Signal(signal), request), stored.dropped),
            )
        except sqlite3.OperationalError as exc:  # locked, disk full: worth retrying
            answer = ("retry", str(exc))
        except PermanentExportError as exc:
            answer = ("refused", str(exc))
        except Exception as exc:  # a bug: keep the data, as the writer thread does
            answer = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(answer)
        except OSError:
            break
    db.close()
