"""What the exporter must remember across collector restarts, in the storage extension.

Keys of the exporter's namespace:

- ``thread/<run id>`` → the run's forum thread id, so a resumed run and a restarted
  collector keep posting in the same thread;
- ``posted/<log.record.uid>`` → the id of the message that posted that event, so an
  event replayed after a restart is not posted twice;
- ``started/<run id>`` → the run's start card went out (channel mode: progress may follow).

Without a storage extension the same is kept in memory (lost at restart).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

__all__ = ["DiscordState", "KeyValue", "MemoryKeyValue"]


class KeyValue(Protocol):
    """The part of the storage extension's client used here."""

    def get(self, key: str) -> bytes | None:
        """The value of ``key``, or None."""

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` durably."""

    def delete(self, key: str) -> None:
        """Forget ``key``."""


class MemoryKeyValue:
    """An in-memory :class:`KeyValue`."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        """The value of ``key``, or None."""
        return self._data.get(key)

    def set(self, key: str, value: bytes) -> None:
        """Store ``value``."""
        self._data[key] = value

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._data.pop(key, None)


class DiscordState:
    """Thread ids, posted events and started runs, cached in memory and kept in storage."""

    def __init__(self, store: KeyValue | Any) -> None:
        self._store = store
        self._cache: dict[str, str | None] = {}

    async def _get(self, key: str) -> str | None:
        if key not in self._cache:
            raw = await asyncio.to_thread(self._store.get, key)
            self._cache[key] = None if raw is None else raw.decode()
        return self._cache[key]

    async def _set(self, key: str, value: str) -> None:
        await asyncio.to_thread(self._store.set, key, value.encode())
        self._cache[key] = value

    async def thread(self, run_id: str) -> str | None:
        """The run's forum thread id, if it has one."""
        return await self._get(f"thread/{run_id}")

    async def set_thread(self, run_id: str, thread_id: str) -> None:
        """Remember the run's forum thread."""
        await self._set(f"thread/{run_id}", thread_id)

    async def forget_thread(self, run_id: str) -> None:
        """The thread is gone (deleted in Discord): the next post opens a new one."""
        await asyncio.to_thread(self._store.delete, f"thread/{run_id}")
        self._cache[f"thread/{run_id}"] = None

    async def posted(self, uid: str) -> bool:
        """Whether the event ``uid`` was already posted."""
        return await self._get(f"posted/{uid}") is not None

    async def mark_posted(self, uid: str, message_id: str) -> None:
        """Remember that event ``uid`` went out as message ``message_id``."""
        await self._set(f"posted/{uid}", message_id)

    async def started(self, run_id: str) -> bool:
        """Whether the run's start card went out (or the run was otherwise announced)."""
        return await self._get(f"started/{run_id}") is not None

    async def mark_started(self, run_id: str) -> None:
        """Remember that the run was announced."""
        if not await self.started(run_id):
            await self._set(f"started/{run_id}", "1")
