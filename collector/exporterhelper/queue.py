"""A persistent FIFO of serialized requests in a SQLite file, one per exporter.

``put`` returns once the request is committed, so an acknowledgement given after
it survives a killed collector. Items leave the file only when ``ack``-ed, so
what was taken but not acknowledged before a crash is read again on restart
(at least once; the destinations de-duplicate by point and event identity).

Full queue: a *blocking* queue (the system of record) refuses the new request;
any other queue drops its oldest droppable requests (progress updates), never
protected ones (run start/end, alerts), and counts what it dropped.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainwire.errors import RetryableExportError

__all__ = ["PersistentQueue", "QueueFullError", "QueuedItem"]

logger = logging.getLogger(__name__)


class QueueFullError(RetryableExportError):
    """A blocking queue is full; the sender should retry after ``retry_after_s``."""


@dataclass(frozen=True)
class QueuedItem:
    """One queued request."""

    seq: int
    signal: str
    payload: bytes


class PersistentQueue:
    """Durable FIFO with take/ack; all file access runs on one private thread."""

    def __init__(self, path: Path, *, capacity: int, blocking: bool, name: str) -> None:
        self.path = path
        self.capacity = capacity
        self.blocking = blocking
        self.name = name
        self.dropped = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"queue-{name}")
        self._conn: sqlite3.Connection | None = None
        self._size = 0
        self._taken_up_to = 0  # items with seq <= this are in flight
        self._available = asyncio.Event()
        self._closed = False

    @property
    def size(self) -> int:
        """Requests in the queue, in flight included."""
        return self._size

    async def open(self) -> None:
        """Open (or create) the file and count what a previous run left in it."""
        self._size = await self._run(self._open)
        if self._size:
            logger.info(
                "%s: resuming with %d queued requests from %s", self.name, self._size, self.path
            )
            self._available.set()

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS items (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " signal TEXT NOT NULL, droppable INTEGER NOT NULL, payload BLOB NOT NULL)"
        )
        self._conn = conn
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])

    async def put(self, signal: str, payload: bytes, *, droppable: bool) -> None:
        """Commit one request; raise :class:`QueueFullError` if blocking and full."""
        if self._closed:
            raise RetryableExportError(f"{self.name}: shutting down", retry_after_s=1.0)
        if self.blocking and self._size >= self.capacity:
            raise QueueFullError(
                f"{self.name}: queue full ({self._size} requests); retry later", retry_after_s=1.0
            )
        if await self._run(self._put, signal, payload, droppable):
            self._available.set()

    def _put(self, signal: str, payload: bytes, droppable: bool) -> bool:
        # Runs on the queue thread, the only place the size changes.
        assert self._conn is not None
        over = self._size + 1 - self.capacity
        if over > 0 and not self.blocking:
            removed = self._conn.execute(
                "DELETE FROM items WHERE seq IN (SELECT seq FROM items WHERE droppable = 1"
                " AND seq > ? ORDER BY seq LIMIT ?)",
                (self._taken_up_to, over),
            ).rowcount
            self._size -= removed
            self.dropped += removed
            if removed < over and droppable:
                self.dropped += 1
                return False  # nothing older can go, so the newest progress update does
            if removed < over:
                logger.warning("%s: over capacity, keeping a protected request", self.name)
        self._conn.execute(
            "INSERT INTO items(signal, droppable, payload) VALUES (?,?,?)",
            (signal, int(droppable), payload),
        )
        self._size += 1
        return True

    async def take(self, limit: int) -> list[QueuedItem]:
        """Wait for requests not yet taken and return up to ``limit`` of them, oldest first."""
        while True:
            if self._closed:
                return []
            items: list[QueuedItem] = await self._run(self._take, limit)
            if items:
                return items
            self._available.clear()
            await self._available.wait()

    def _take(self, limit: int) -> list[QueuedItem]:
        assert self._conn is not None
        rows = self._conn.execute(
            "SELECT seq, signal, payload FROM items WHERE seq > ? ORDER BY seq LIMIT ?",
            (self._taken_up_to, limit),
        ).fetchall()
        items = [QueuedItem(seq, signal, bytes(payload)) for seq, signal, payload in rows]
        if items:
            # Set here, on the queue thread, so a _put that runs next never drops them.
            self._taken_up_to = items[-1].seq
        return items

    async def ack(self, items: list[QueuedItem]) -> None:
        """Remove delivered (or given-up) items for good."""
        if not items:
            return
        await self._run(self._ack, [item.seq for item in items])

    def _ack(self, seqs: list[int]) -> None:
        assert self._conn is not None
        self._conn.execute("BEGIN")
        removed = 0
        for seq in seqs:
            removed += self._conn.execute("DELETE FROM items WHERE seq = ?", (seq,)).rowcount
        self._conn.execute("COMMIT")
        self._size -= removed

    def release(self) -> None:
        """Forget what was taken but not acked, so it is taken again (after a failed drain)."""
        self._taken_up_to = 0
        self._available.set()

    async def close(self) -> None:
        """Stop handing out items and close the file; what is left stays for the next start."""
        if self._closed:
            return
        self._closed = True
        self._available.set()
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
