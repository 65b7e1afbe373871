"""What the exporter must remember across collector restarts, in the storage extension.

Keys of the exporter's namespace:

- ``thread/<run id>`` → the run's forum thread id, so a resumed run and a restarted
  collector keep posting in the same thread;
- ``posted/<run id>/<log.record.uid>`` → the id of the message that posted that event,
  so an event replayed after a restart is not posted twice; ``…#<n>`` for each part
  of a post split over several messages, so a retried post skips the parts that went out;
- ``started/<run id>`` → the run's start card went out (channel mode: progress may follow);
- ``run/<run id>`` → a compact summary of the run (latest, best, chart history, rule
  state; see :mod:`~trainwire.exporters.discord.snapshot`), so the end summary of a run
  that outlived a collector restart covers the whole run;
- ``ended/<run id>`` → when the run ended (wall clock); ``state_retention_s`` later its
  ``posted/`` keys and summary are pruned (its thread and ``started`` stay: a resumed
  run still finds its thread).

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

    def items(self, prefix: str = "") -> dict[str, bytes]:
        """Every key starting with ``prefix`` and its value."""


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

    def items(self, prefix: str = "") -> dict[str, bytes]:
        """Every key starting with ``prefix`` and its value."""
        return {k: v for k, v in self._data.items() if k.startswith(prefix)}


def _posted_key(run_id: str | None, uid: str) -> str:
    return f"posted/{run_id or '-'}/{uid}"


class DiscordState:
    """Thread ids, posted events, started runs and run summaries, kept in storage."""

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

    async def _delete(self, key: str) -> None:
        await asyncio.to_thread(self._store.delete, key)
        self._cache[key] = None

    async def thread(self, run_id: str) -> str | None:
        """The run's forum thread id, if it has one."""
        return await self._get(f"thread/{run_id}")

    async def set_thread(self, run_id: str, thread_id: str) -> None:
        """Remember the run's forum thread."""
        await self._set(f"thread/{run_id}", thread_id)

    async def forget_thread(self, run_id: str) -> None:
        """The thread is gone (deleted in Discord): the next post opens a new one."""
        await self._delete(f"thread/{run_id}")

    async def posted(self, run_id: str | None, uid: str) -> str | None:
        """The message id that posted event ``uid`` of the run, or None if not posted yet."""
        return await self._get(_posted_key(run_id, uid))

    async def mark_posted(self, run_id: str | None, uid: str, message_id: str) -> None:
        """Remember that event ``uid`` went out as message ``message_id``."""
        await self._set(_posted_key(run_id, uid), message_id or "?")

    async def started(self, run_id: str) -> bool:
        """Whether the run's start card went out (or the run was otherwise announced)."""
        return await self._get(f"started/{run_id}") is not None

    async def mark_started(self, run_id: str) -> None:
        """Remember that the run was announced; a (re)started run is no longer ended."""
        if not await self.started(run_id):
            await self._set(f"started/{run_id}", "1")
        if await self._get(f"ended/{run_id}") is not None:
            await self._delete(f"ended/{run_id}")

    async def summary(self, run_id: str) -> str | None:
        """The run's stored summary (JSON), if any."""
        return await asyncio.to_thread(self._read, f"run/{run_id}")

    def _read(self, key: str) -> str | None:
        raw = self._store.get(key)
        return None if raw is None else bytes(raw).decode()

    async def save_summary(self, run_id: str, text: str) -> None:
        """Store the run's summary (not cached: it is only read when a run is first seen)."""
        await asyncio.to_thread(self._store.set, f"run/{run_id}", text.encode())

    async def mark_ended(self, run_id: str, at_s: float) -> None:
        """Remember when the run ended, for :meth:`prune`."""
        await self._set(f"ended/{run_id}", f"{at_s:.3f}")

    async def prune(self, now_s: float, retention_s: float) -> list[str]:
        """Forget what runs ended more than ``retention_s`` ago posted; return those runs."""
        pruned = await asyncio.to_thread(self._prune, now_s, retention_s)
        for keys in pruned.values():
            for key in keys:
                self._cache.pop(key, None)
        return list(pruned)

    def _prune(self, now_s: float, retention_s: float) -> dict[str, list[str]]:
        pruned: dict[str, list[str]] = {}
        for key, raw in self._store.items("ended/").items():
            try:
                ended_at = float(bytes(raw).decode())
            except ValueError:
                ended_at = 0.0
            if now_s - ended_at < retention_s:
                continue
            run_id = key[len("ended/") :]
            doomed = [*self._store.items(f"posted/{run_id}/"), f"run/{run_id}", key]
            for old in doomed:
                self._store.delete(old)
            pruned[run_id] = doomed
        return pruned
