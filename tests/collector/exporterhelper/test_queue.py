"""The persistent queue: durable, ordered, bounded, with the right drop policy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from trainwire.collector.exporterhelper import PersistentQueue, QueueFullError


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async test body with a deadline."""
    return asyncio.run(asyncio.wait_for(coro_fn(), 30))


async def _queue(path: Path, capacity: int = 10, blocking: bool = True) -> PersistentQueue:
    queue = PersistentQueue(path, capacity=capacity, blocking=blocking, name="test")
    await queue.open()
    return queue


def test_items_come_back_in_order_and_leave_only_when_acked(tmp_path: Path) -> None:
    """Taken items stay in the file until acked; a reopened queue hands back what was not acked."""

    async def body() -> None:
        queue = await _queue(tmp_path / "q.db")
        for i in range(5):
            await queue.put("metrics", f"p{i}".encode(), droppable=True)
        first = await queue.take(3)
        assert [i.payload for i in first] == [b"p0", b"p1", b"p2"]
        await queue.ack(first[:2])
        assert [i.payload for i in await queue.take(10)] == [b"p3", b"p4"]
        await queue.close()  # p2, p3, p4 were taken but never acked: a crash, in effect
        reopened = await _queue(tmp_path / "q.db")
        assert reopened.size == 3
        assert [i.payload for i in await reopened.take(10)] == [b"p2", b"p3", b"p4"]
        await reopened.close()

    run(body)


def test_blocking_queue_refuses_when_full_and_accepts_after_ack(tmp_path: Path) -> None:
    """The system of record's queue refuses a request when full (retry later) and takes it once drained."""

    async def body() -> None:
        queue = await _queue(tmp_path / "q.db", capacity=2)
        await queue.put("logs", b"a", droppable=False)
        await queue.put("logs", b"b", droppable=True)
        with pytest.raises(QueueFullError) as info:
            await queue.put("logs", b"c", droppable=True)
        assert info.value.retry_after_s is not None and info.value.retry_after_s > 0
        await queue.ack(await queue.take(1))
        await queue.put("logs", b"c", droppable=True)
        assert [i.payload for i in await queue.take(10)] == [b"b", b"c"]
        await queue.close()

    run(body)


def test_full_non_blocking_queue_drops_oldest_droppable_and_keeps_protected(tmp_path: Path) -> None:
    """A full best-effort queue drops its oldest progress updates, never protected run events."""

    async def body() -> None:
        queue = await _queue(tmp_path / "q.db", capacity=3, blocking=False)
        await queue.put("logs", b"start", droppable=False)
        await queue.put("metrics", b"m1", droppable=True)
        await queue.put("metrics", b"m2", droppable=True)
        await queue.put("metrics", b"m3", droppable=True)  # drops m1
        await queue.put("logs", b"end", droppable=False)  # drops m2
        assert queue.dropped == 2
        assert [i.payload for i in await queue.take(10)] == [b"start", b"m3", b"end"]
        await queue.close()

    run(body)


def test_queue_full_of_protected_events_keeps_new_ones_and_drops_new_progress(
    tmp_path: Path,
) -> None:
    """With nothing droppable left, a new protected event is still kept and a new progress update is dropped."""

    async def body() -> None:
        queue = await _queue(tmp_path / "q.db", capacity=2, blocking=False)
        await queue.put("logs", b"start-1", droppable=False)
        await queue.put("logs", b"start-2", droppable=False)
        await queue.put("metrics", b"progress", droppable=True)
        await queue.put("logs", b"end-1", droppable=False)
        assert queue.dropped == 1
        assert [i.payload for i in await queue.take(10)] == [b"start-1", b"start-2", b"end-1"]
        await queue.close()

    run(body)


def test_items_in_flight_are_never_dropped_to_make_room(tmp_path: Path) -> None:
    """Requests already taken by the sender are not the ones a full queue drops."""

    async def body() -> None:
        queue = await _queue(tmp_path / "q.db", capacity=2, blocking=False)
        await queue.put("metrics", b"m1", droppable=True)
        await queue.put("metrics", b"m2", droppable=True)
        taken = await queue.take(1)
        await queue.put("metrics", b"m3", droppable=True)  # must drop m2, not in-flight m1
        await queue.ack(taken)
        assert [i.payload for i in await queue.take(10)] == [b"m3"]
        await queue.close()

    run(body)


def test_take_waits_for_new_items(tmp_path: Path) -> None:
    """take() on an empty queue waits until something is put, then returns it."""

    async def body() -> None:
        queue = await _queue(tmp_path / "q.db")
        waiter = asyncio.create_task(queue.take(5))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await queue.put("traces", b"t", droppable=True)
        assert [i.payload for i in await asyncio.wait_for(waiter, 5)] == [b"t"]
        await queue.close()

    run(body)
