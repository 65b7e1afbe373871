"""The storage extension: a directory for persistent queues and a small key-value store.

Components reach it through ``host.get_extension(id)``. Each component gets its
own namespace of keys (the Discord exporter's thread ids, the liveness
connector's last-seen times) and its own queue file. Writes are committed before
``set`` returns.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from trainwire.collector.component import ComponentID, Host
from trainwire.collector.extensions.storage.config import StorageConfig

__all__ = ["StorageClient", "StorageExtension"]


class StorageClient:
    """Durable key → bytes records of one component. Thread-safe."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock, owner: str) -> None:
        self._conn = conn
        self._lock = lock
        self._owner = owner

    def get(self, key: str) -> bytes | None:
        """The value of ``key``, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM kv WHERE owner = ? AND key = ?", (self._owner, key)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``, durably."""
        self.set_many({key: value})

    def set_many(self, values: dict[str, bytes]) -> None:
        """Store several keys in one commit."""
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO kv(owner, key, value) VALUES (?,?,?)"
                " ON CONFLICT(owner, key) DO UPDATE SET value = excluded.value",
                [(self._owner, k, v) for k, v in values.items()],
            )

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM kv WHERE owner = ? AND key = ?", (self._owner, key))

    def items(self, prefix: str = "") -> dict[str, bytes]:
        """Every key starting with ``prefix`` and its value."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, value FROM kv WHERE owner = ? AND substr(key, 1, ?) = ?",
                (self._owner, len(prefix), prefix),
            ).fetchall()
        return {k: bytes(v) for k, v in rows}


class StorageExtension:
    """Gives components durable places: ``client(id)`` and ``queue_path(id)``."""

    def __init__(self, config: StorageConfig, *, id: ComponentID) -> None:
        self.config = config
        self.id = id
        self.directory = Path(config.directory).expanduser()
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def start(self, host: Host) -> None:
        """Create the directory and open the key-value file."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"{self.id}: cannot create directory {self.directory}: {exc}") from None
        conn = sqlite3.connect(
            self.directory / "state.db", isolation_level="DEFERRED", check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (owner TEXT NOT NULL, key TEXT NOT NULL,"
            " value BLOB NOT NULL, PRIMARY KEY (owner, key)) WITHOUT ROWID"
        )
        conn.commit()
        self._conn = conn

    def client(self, owner: ComponentID | str) -> StorageClient:
        """The key-value namespace of component ``owner``."""
        if self._conn is None:
            raise RuntimeError(f"{self.id} is not started")
        return StorageClient(self._conn, self._lock, str(owner))

    def queue_path(self, owner: ComponentID | str) -> Path:
        """Where component ``owner`` keeps its persistent queue."""
        safe = str(owner).replace("/", "__")
        return self.directory / f"queue-{safe}.db"

    async def shutdown(self) -> None:
        """Close the key-value file; safe before start and twice."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._lock:
                conn.close()
