"""The background sender: drains the run's buffer, encodes, ships, retries.

The training thread only appends to a deque. This thread wakes every
``flush_interval_s`` (or when asked), turns what it finds into one OTLP metrics
and one logs request per chunk, and delivers them through the transport,
retrying retryable failures with jittered exponential backoff (honouring the
server's RetryInfo) until they are acknowledged or ``close()``'s deadline passes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.records import EventRecord, MetricRecord, encode_events, encode_metrics
from trainwire.transports.base import Transport

__all__ = ["Sender", "SenderOptions"]

logger = logging.getLogger("trainwire")


@dataclass(frozen=True)
class SenderOptions:
    """Tuning of the background sender."""

    flush_interval_s: float = 0.1
    max_buffered_records: int = 1_000_000
    max_records_per_request: int = 2_000
    request_timeout_s: float = 10.0
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    heartbeat_interval_s: float = 10.0
    """How often an ``ml.run.heartbeat`` tells the collector the process is alive."""


@dataclass
class _FlushMarker:
    done: threading.Event = field(default_factory=threading.Event)


class Sender:
    """Owns the buffer and the thread that empties it into a :class:`Transport`."""

    def __init__(
        self,
        transport: Transport,
        resource: Resource,
        scope: InstrumentationScope,
        *,
        options: SenderOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: Callable[[], EventRecord] | None = None,
    ) -> None:
        self._transport = transport
        self._resource = resource
        self._scope = scope
        self._options = options or SenderOptions()
        self._clock = clock
        self.heartbeat = heartbeat
        """Makes the periodic ``ml.run.heartbeat`` record; set once the run exists."""
        self._next_heartbeat = clock() + self._options.heartbeat_interval_s
        self._buffer: deque[Any] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._deadline: float | None = None
        self._warned_full = False
        self.sent_records = 0
        self.dropped_records = 0
        self.undelivered_records = 0
        self._thread = threading.Thread(target=self._loop, name="trainwire-sender", daemon=True)
        self._thread.start()

    def put(self, record: MetricRecord | EventRecord) -> None:
        """Queue a record; waits (and says so once) only if the buffer is at its bound."""
        if len(self._buffer) >= self._options.max_buffered_records:
            self._wait_for_room()
        self._buffer.append(record)

    def _wait_for_room(self) -> None:
        if not self._warned_full:
            self._warned_full = True
            logger.warning(
                "trainwire: %d records are waiting to be sent; log() now waits for room"
                " rather than drop data (is the collector reachable?)",
                len(self._buffer),
            )
        self._wake.set()
        while len(self._buffer) >= self._options.max_buffered_records and self._thread.is_alive():
            time.sleep(0.005)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued so far is acknowledged; return False on timeout."""
        marker = _FlushMarker()
        self._buffer.append(marker)
        self._wake.set()
        return marker.done.wait(timeout_s)

    def close(self, timeout_s: float) -> bool:
        """Deliver what is queued within ``timeout_s``, then stop; return whether all was sent."""
        self._deadline = self._clock() + timeout_s
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout_s + 1.0)
        left = sum(1 for r in self._buffer if not isinstance(r, _FlushMarker))
        self.undelivered_records += left
        return self.undelivered_records == 0 and not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._options.flush_interval_s)
            self._wake.clear()
            self._maybe_heartbeat()
            try:
                self._drain()
            except Exception:  # never let the sender die silently: the run would stop recording
                logger.exception("trainwire: sending failed unexpectedly; will retry")
                time.sleep(self._options.initial_backoff_s)
            if self._stopping and (not self._buffer or self._past_deadline()):
                return

    def _maybe_heartbeat(self) -> None:
        if self.heartbeat is None or self._stopping or self._clock() < self._next_heartbeat:
            return
        self._next_heartbeat = self._clock() + self._options.heartbeat_interval_s
        try:
            self._buffer.append(self.heartbeat())
        except Exception:  # a heartbeat must never stop the sender
            logger.exception("trainwire: could not make a heartbeat")

    def _drain(self) -> None:
        while self._buffer and not self._past_deadline():
            metrics: list[MetricRecord] = []
            events: list[EventRecord] = []
            while (
                self._buffer and len(metrics) + len(events) < self._options.max_records_per_request
            ):
                record = self._buffer[0]
                if isinstance(record, _FlushMarker):
                    if metrics or events:
                        break  # deliver what precedes the marker first
                    self._buffer.popleft()
                    record.done.set()
                    continue
                (metrics if isinstance(record, MetricRecord) else events).append(record)
                self._buffer.popleft()
            if metrics:
                request: Any = encode_metrics(self._resource, self._scope, metrics)
                self._deliver(self._transport.export_metrics, request, metrics)
            if events:
                request = encode_events(self._resource, self._scope, events)
                self._deliver(self._transport.export_logs, request, events)

    def _deliver(self, export: Callable[..., None], request: Any, records: list[Any]) -> None:
        """Send one request until acknowledged, refused, or past the close deadline."""
        count = len(records)
        backoff = self._options.initial_backoff_s
        while True:
            try:
                export(request, timeout_s=self._options.request_timeout_s)
                self.sent_records += count
                return
            except PermanentExportError as exc:
                self.dropped_records += count
                logger.error("trainwire: %d records refused and dropped: %s", count, exc)
                return
            except RetryableExportError as exc:
                delay = exc.retry_after_s if exc.retry_after_s is not None else backoff
                delay *= random.uniform(0.8, 1.2)
                backoff = min(backoff * 2, self._options.max_backoff_s)
                logger.debug("trainwire: retrying in %.2fs: %s", delay, exc)
                self._sleep(delay)
                if self._past_deadline():
                    # Put them back in front so close() counts them as undelivered.
                    self._buffer.extendleft(reversed(records))
                    return

    def _past_deadline(self, after_s: float = 0.0) -> bool:
        return self._deadline is not None and self._clock() + after_s >= self._deadline

    def _sleep(self, delay_s: float) -> None:
        end = self._clock() + delay_s
        while not self._past_deadline() and self._clock() < end:
            time.sleep(min(0.05, max(0.0, end - self._clock())))
