"""The ``batch`` processor: fewer, larger requests downstream, without early acknowledgement.

Like the OpenTelemetry Collector's batch processor, requests of one signal that
arrive within ``timeout_s`` of each other are merged and sent as one, as soon as
``send_batch_size`` units are in or the timeout passes. Unlike it, nothing is
acknowledged early: each caller waits for the downstream call that carried its
data and gets that call's exception if it failed (acknowledged means durable).
Batches of one signal go downstream one at a time, in the order they were made.

With ``send_batch_max_size``, a request larger than the room left is split; a
``log()`` call's value points and its ``ml.step`` point may then travel apart,
which the store resolves when the second part arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.collector.processors._otlp import count_items, forward, merge, split
from trainwire.collector.processors.batch.config import BatchProcessorConfig
from trainwire.collector.telemetry import Telemetry

__all__ = ["BatchProcessor"]


@dataclass
class _Batch:
    """Requests waiting to go downstream together, and the outcome their callers await."""

    requests: list[Any] = field(default_factory=list)
    units: int = 0
    done: asyncio.Future[None] | None = None
    timer: asyncio.TimerHandle | None = None


def _retrieved(future: asyncio.Future[None]) -> None:
    """Mark the outcome as seen even when every caller was cancelled (no stray warning)."""
    if not future.cancelled():
        future.exception()


class _Batcher:
    """Batches the requests of one signal."""

    def __init__(
        self,
        config: BatchProcessorConfig,
        send: Callable[[Any], Awaitable[None]],
        count_trigger: Callable[[str], None],
    ) -> None:
        self._config = config
        self._send = send
        self._count_trigger = count_trigger
        self._current = _Batch()
        self._lock = asyncio.Lock()
        self._in_flight: set[asyncio.Task[None]] = set()
        self.closed = False

    async def add(self, request: Any) -> None:
        """Put ``request`` in the current batch(es); return once all of it went downstream."""
        if self.closed:  # nothing may wait in a shut-down processor: go straight through
            await self._send(request)
            return
        outcomes = self._enqueue(request)
        for outcome in outcomes:
            await asyncio.shield(outcome)

    def _enqueue(self, request: Any) -> list[asyncio.Future[None]]:
        """Add ``request`` (split to fit the cap) without yielding to the loop; return outcomes."""
        cap = self._config.send_batch_max_size
        units = count_items(request)
        pieces = [(request, units)]
        if cap and self._current.units + units > cap:
            room = cap - self._current.units
            pieces = [(p, count_items(p)) for p in split(request, room, cap)]
        outcomes: list[asyncio.Future[None]] = []
        loop = asyncio.get_running_loop()
        for piece, piece_units in pieces:
            batch = self._current
            if batch.done is None:
                batch.done = loop.create_future()
                batch.done.add_done_callback(_retrieved)
            batch.requests.append(piece)
            batch.units += piece_units
            outcomes.append(batch.done)
            if self._full(batch):
                self._flush(batch, "batch_size")
        batch = self._current
        if batch.requests and batch.timer is None:
            batch.timer = loop.call_later(self._config.timeout_s, self._flush, batch, "timeout")
        return outcomes

    def _full(self, batch: _Batch) -> bool:
        size, cap = self._config.send_batch_size, self._config.send_batch_max_size
        return bool((size and batch.units >= size) or (cap and batch.units >= cap))

    def _flush(self, batch: _Batch, trigger: str) -> None:
        """Send ``batch`` if it is still the one filling (a late timer finds it gone)."""
        if batch is not self._current or not batch.requests:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        self._current = _Batch()
        self._count_trigger(trigger)
        task = asyncio.get_running_loop().create_task(self._deliver(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, batch: _Batch) -> None:
        assert batch.done is not None
        try:
            async with self._lock:  # one batch of a signal downstream at a time, in order
                await self._send(
                    merge(batch.requests, merge_resources=self._config.merge_resources)
                )
        except asyncio.CancelledError:
            batch.done.cancel()
            raise
        except BaseException as exc:  # every caller gets the downstream's own exception
            batch.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            batch.done.set_result(None)

    async def close(self) -> None:
        """Send what is waiting, wait for every batch in flight, then pass requests straight on."""
        self.closed = True
        self._flush(self._current, "shutdown")
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)


class BatchProcessor:
    """Merges concurrent requests of each signal into fewer downstream calls."""

    def __init__(
        self, config: BatchProcessorConfig, *, id: ComponentID, next_consumer: Any
    ) -> None:
        self.config = config
        self.id = id
        self._next = next_consumer
        self._telemetry = Telemetry()
        self._batchers = {
            signal: _Batcher(config, self._send, self._count_trigger) for signal in Signal
        }

    async def start(self, host: Host) -> None:
        """Count batch triggers into the host's telemetry; batching needs no task of its own."""
        telemetry = getattr(host, "telemetry", None)
        if isinstance(telemetry, Telemetry):
            self._telemetry = telemetry
        for batcher in self._batchers.values():
            batcher.closed = False

    async def shutdown(self) -> None:
        """Send every waiting batch downstream and wait for it; safe before start and twice."""
        for batcher in self._batchers.values():
            await batcher.close()

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Batch ``request``; return once the batch carrying it was taken downstream."""
        await self._batchers[Signal.METRICS].add(request)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Batch ``request``; return once the batch carrying it was taken downstream."""
        await self._batchers[Signal.LOGS].add(request)

    async def consume_traces(self, request: ExportTraceServiceRequest) -> None:
        """Batch ``request``; return once the batch carrying it was taken downstream."""
        await self._batchers[Signal.TRACES].add(request)

    async def _send(self, request: Any) -> None:
        await forward(self._next, request)

    def _count_trigger(self, trigger: str) -> None:
        if trigger == "shutdown":
            return
        self._telemetry.counter(
            f"otelcol_processor_batch_{trigger}_trigger_send",
            f"Batches sent because of the {trigger.replace('_', ' ')} trigger",
            ("processor",),
        ).add(1, processor=str(self.id))
