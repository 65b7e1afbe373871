"""Queueing and retry, written once for every exporter (the Collector's exporterhelper).

An exporter implements only "push this request" (:class:`Pusher`) and classifies
its failures as :class:`PermanentExportError` or :class:`RetryableExportError`.
:class:`QueuedExporter` puts what it is given in the exporter's persistent queue
(acknowledging once committed), drains the queue in the background with
exponential backoff and jitter, honours a destination's ``retry_after``, gives up
after ``max_elapsed_time_s`` (0: never), is interrupted by shutdown, and resumes
from the queue file after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any, Protocol

from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.collector.encoded import encoded
from trainwire.collector.exporterhelper.config import QueueConfig, RetryConfig
from trainwire.collector.exporterhelper.queue import PersistentQueue, QueuedItem
from trainwire.collector.exporterhelper.requests import count_items, is_droppable, merge
from trainwire.errors import ConfigError, PermanentExportError, RetryableExportError

__all__ = ["Pusher", "QueuedExporter"]

logger = logging.getLogger(__name__)

_ITEM_WORD = {Signal.METRICS: "metric_points", Signal.LOGS: "log_records", Signal.TRACES: "spans"}


class Pusher(Protocol):
    """What an exporter implements: deliver one request, or raise a classified error."""

    async def start(self, host: Host) -> None:
        """Connect to the destination."""

    async def shutdown(self) -> None:
        """Disconnect; safe before start and twice."""

    async def push(self, signal: Signal, request: Any) -> None:
        """Deliver ``request``; raise PermanentExportError or RetryableExportError on failure."""

    # Optional: ``async def push_encoded(self, signal, payload: bytes) -> int`` takes the
    # queued bytes unparsed (several serialized requests joined) and returns the items
    # delivered; the queue then never decodes what it drains.


class QueuedExporter:
    """Wraps a :class:`Pusher` with a persistent queue and retries."""

    def __init__(
        self,
        pusher: Pusher,
        *,
        id: ComponentID,
        queue: QueueConfig,
        retry: RetryConfig,
        blocks_ingestion: bool = False,
    ) -> None:
        self.pusher = pusher
        self.id = id
        self.queue_config = queue
        self.retry = retry
        self.blocks_ingestion = blocks_ingestion
        """True for the system of record: a full queue refuses instead of dropping."""
        self.queue: PersistentQueue | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._started = False
        self._counters: dict[str, Any] = {}

    async def start(self, host: Host) -> None:
        """Start the destination, open the queue and begin draining it."""
        self._register_telemetry(host)
        await self.pusher.start(host)
        self._started = True
        if not self.queue_config.enabled:
            return
        storage = host.get_extension(ComponentID.parse(self.queue_config.storage))
        queue_path = getattr(storage, "queue_path", None)
        if queue_path is None:
            raise ConfigError(
                f"exporters::{self.id}::sending_queue::storage: '{self.queue_config.storage}'"
                " is not a started storage extension; add it under extensions: and to"
                " service::extensions"
            )
        self.queue = PersistentQueue(
            queue_path(self.id),
            capacity=self.queue_config.queue_size,
            blocking=self.blocks_ingestion,
            name=f"exporter {self.id}",
        )
        await self.queue.open()
        gauge = host.telemetry.gauge(
            "otelcol_exporter_queue_size", "Requests in the exporter queue.", ("exporter",)
        )
        gauge.set_function(
            lambda: float(self.queue.size if self.queue else 0), exporter=str(self.id)
        )
        host.telemetry.gauge(
            "otelcol_exporter_queue_capacity", "Capacity of the exporter queue.", ("exporter",)
        ).set(float(self.queue_config.queue_size), exporter=str(self.id))
        self._task = asyncio.create_task(self._drain(), name=f"drain {self.id}")

    def _register_telemetry(self, host: Host) -> None:
        for signal, word in _ITEM_WORD.items():
            for what, description in (
                ("sent", "Items delivered by the exporter."),
                ("send_failed", "Items the exporter gave up on."),
                ("enqueue_failed", "Items refused because the queue was full."),
            ):
                self._counters[f"{what}:{signal.value}"] = host.telemetry.counter(
                    f"otelcol_exporter_{what}_{word}", description, ("exporter",)
                )
        self._counters["dropped"] = host.telemetry.counter(
            "otelcol_exporter_queue_dropped_requests",
            "Droppable requests a full queue discarded (oldest first).",
            ("exporter",),
        )

    def _count(self, what: str, signal: Signal, amount: int) -> None:
        counter = self._counters.get(f"{what}:{signal.value}")
        if counter is not None and amount:
            counter.add(amount, exporter=str(self.id))

    async def consume_metrics(self, request: Any) -> None:
        """Queue (or, with the queue off, deliver) a metrics request."""
        await self._consume(Signal.METRICS, request)

    async def consume_logs(self, request: Any) -> None:
        """Queue (or deliver) a logs request."""
        await self._consume(Signal.LOGS, request)

    async def consume_traces(self, request: Any) -> None:
        """Queue (or deliver) a traces request."""
        await self._consume(Signal.TRACES, request)

    async def _consume(self, signal: Signal, request: Any) -> None:
        if not self._started or self._stopping:
            raise RetryableExportError(f"{self.id}: not running", retry_after_s=1.0)
        if self.queue is None:  # write-through: the caller waits and sees the failure
            await self.pusher.push(signal, request)
            self._count("sent", signal, count_items(signal, request))
            return
        dropped_before = self.queue.dropped
        try:
            await self.queue.put(
                signal.value, encoded(request), droppable=is_droppable(signal, request)
            )
        except RetryableExportError:
            self._count("enqueue_failed", signal, count_items(signal, request))
            raise
        if self.queue.dropped > dropped_before and "dropped" in self._counters:
            self._counters["dropped"].add(
                self.queue.dropped - dropped_before, exporter=str(self.id)
            )

    async def _drain(self) -> None:
        assert self.queue is not None
        while not self._stopping:
            items = await self.queue.take(self.queue_config.max_batch_requests)
            if not items:
                return
            for group in _runs_of_one_signal(items, int(self.queue_config.max_batch_mib * 2**20)):
                if not await self._send(Signal(group[0].signal), group):
                    self.queue.release()  # interrupted: send again from the file next time
                    return
                await self.queue.ack(group)

    async def _send(self, signal: Signal, items: list[QueuedItem]) -> bool:
        """Deliver items until success or giving up; False if shutdown interrupted it."""
        payloads = [item.payload for item in items]
        push_encoded = getattr(self.pusher, "push_encoded", None)
        if push_encoded is not None:
            # Serialized requests of one type concatenate into their merge: no parsing here.
            joined = b"".join(payloads)
            request = None
        else:
            request = merge(signal, payloads)
        delay = self.retry.initial_interval_s
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                if push_encoded is not None:
                    sent = await push_encoded(signal, joined)
                else:
                    await self.pusher.push(signal, request)
                    sent = count_items(signal, request)
                self._count("sent", signal, sent)
                return True
            except PermanentExportError as exc:
                count = _items(signal, request, payloads)
                logger.error(
                    "%s: dropping %d %s refused by the destination: %s",
                    self.id,
                    count,
                    _ITEM_WORD[signal],
                    exc,
                )
                self._count("send_failed", signal, count)
                return True
            except Exception as exc:  # retryable, or a bug in the exporter: keep the data
                if isinstance(exc, RetryableExportError):
                    wait = exc.retry_after_s if exc.retry_after_s is not None else delay
                else:
                    wait = delay
                    if attempt == 1:
                        logger.exception("%s: push failed unexpectedly", self.id)
                elapsed = time.monotonic() - started
                limit = self.retry.max_elapsed_time_s
                if not self.retry.enabled or (limit and elapsed + wait > limit):
                    count = _items(signal, request, payloads)
                    logger.error(
                        "%s: giving up on %d %s after %.0fs: %s",
                        self.id,
                        count,
                        _ITEM_WORD[signal],
                        elapsed,
                        exc,
                    )
                    self._count("send_failed", signal, count)
                    return True
                # Say it once per request; a destination that stays down must not flood the log.
                log = logger.warning if attempt == 1 else logger.debug
                log("%s: %s; retrying in %.1fs (attempt %d)", self.id, exc, wait, attempt)
            if self._stopping:
                return False
            await self._sleep(wait * random.uniform(0.8, 1.2))
            if self._stopping:
                return False
            delay = min(delay * self.retry.multiplier, self.retry.max_interval_s)

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < end:
            await asyncio.sleep(min(0.1, end - time.monotonic()))

    async def shutdown(self) -> None:
        """Refuse new data, keep draining up to ``drain_timeout_s``, then stop; safe twice."""
        if self._stopping or not self._started:
            return
        task = self._task
        if task is not None and self.queue is not None:
            deadline = time.monotonic() + self.queue_config.drain_timeout_s
            while self.queue.size and time.monotonic() < deadline and not task.done():
                await asyncio.sleep(0.02)
            if self.queue.size:
                logger.warning(
                    "%s: %d requests stay queued on disk for the next start",
                    self.id,
                    self.queue.size,
                )
        self._stopping = True
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.queue is not None:
            await self.queue.close()
        if self._started:
            await self.pusher.shutdown()


def _items(signal: Signal, request: Any, payloads: list[bytes]) -> int:
    """Items in a batch, for the log lines of a failed send (parsed only then)."""
    return count_items(signal, request if request is not None else merge(signal, payloads))


def _runs_of_one_signal(items: list[QueuedItem], max_bytes: int) -> list[list[QueuedItem]]:
    """Consecutive items of one signal, each group at most ``max_bytes`` (or one item)."""
    groups: list[list[QueuedItem]] = []
    size = 0
    for item in items:
        if groups and groups[-1][0].signal == item.signal and size + len(item.payload) <= max_bytes:
            groups[-1].append(item)
            size += len(item.payload)
        else:
            groups.append([item])
            size = len(item.payload)
    return groups
