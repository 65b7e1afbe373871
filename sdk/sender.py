"""The background sender: buffer → spool on disk → destination, with retries.

The training thread only appends to a deque. Every ``flush_interval_s`` this
thread encodes what it finds into OTLP requests and appends them to the run's
spool (fsynced), so everything logged that long before a crash is on disk. It
then ships spooled requests in order, deleting each only once the destination
has acknowledged it. While the destination is down it keeps spooling, so memory
stays bounded however long the outage; retries use jittered exponential backoff
and honour the server's RetryInfo. ``close()`` never waits past its deadline:
what is left stays in the spool for ``trainwire sync``.
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
from trainwire.records import (
    EncodedRequest,
    EventRecord,
    HistogramRecord,
    MetricRecord,
    encode_events,
    encode_metrics,
)
from trainwire.spool import SIGNAL_LOGS, SIGNAL_METRICS, Frame, Spool
from trainwire.transports.base import Transport

__all__ = ["Sender", "SenderOptions"]

logger = logging.getLogger("trainwire")

Position = tuple[int, int]


@dataclass(frozen=True)
class SenderOptions:
    """Tuning of the background sender."""

    flush_interval_s: float = 0.1
    """Also the spool interval: how stale the on-disk copy may be."""
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
    target: Position | None = None
    delivered: bool = False


class Sender:
    """Owns the buffer, the spool, and the thread that ships the spool to a :class:`Transport`."""

    def __init__(
        self,
        transport: Transport,
        resource: Resource,
        scope: InstrumentationScope,
        spool: Spool,
        *,
        options: SenderOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: Callable[[], EventRecord] | None = None,
    ) -> None:
        self._transport = transport
        self._resource = resource
        self.resource = resource
        """The run's OTLP resource (read-only)."""
        self._scope = scope
        self.spool = spool
        self._options = options or SenderOptions()
        self._clock = clock
        self.heartbeat = heartbeat
        """Makes the periodic ``ml.run.heartbeat`` record; set once the run exists."""
        self._next_heartbeat = clock() + self._options.heartbeat_interval_s
        self._buffer: deque[Any] = deque()
        self.buffer = self._buffer
        """The deque the training thread appends to (the Run appends directly, for speed)."""
        self.max_buffered_records = self._options.max_buffered_records
        self._markers: list[_FlushMarker] = []
        self._spooled_to: Position = spool.acked_position()
        self._wake = threading.Event()
        self._stopping = False
        self._closed = False
        self._deadline: float | None = None
        self._warned_full = False
        self.sent_requests = 0
        self.dropped_requests = 0
        self.undelivered_requests = 0
        self._thread = threading.Thread(target=self._loop, name="trainwire-sender", daemon=True)
        self._thread.start()

    def put(self, record: MetricRecord | HistogramRecord | EventRecord | EncodedRequest) -> None:
        """Queue a record; waits (and says so once) only if the buffer is at its bound."""
        if len(self._buffer) >= self._options.max_buffered_records:
            self._wait_for_room()
        self._buffer.append(record)

    def _wait_for_room(self) -> None:
        if not self._warned_full:
            self._warned_full = True
            logger.warning(
                "trainwire: %d records wait to be spooled; log() now waits for room rather"
                " than drop data (is the disk slow?)",
                len(self._buffer),
            )
        self._wake.set()
        while len(self._buffer) >= self._options.max_buffered_records and self._thread.is_alive():
            time.sleep(0.005)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued so far is acknowledged; return False on timeout."""
        if self._closed:
            return self.undelivered_requests == 0
        marker = _FlushMarker()
        self._buffer.append(marker)
        self._wake.set()
        return marker.done.wait(timeout_s) and marker.delivered

    def close(self, timeout_s: float) -> bool:
        """Deliver what is queued within ``timeout_s``, then stop; return whether all was sent.

        Whatever was not delivered stays in the spool (``trainwire sync`` ships it).
        """
        self._deadline = self._clock() + timeout_s
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout_s + 5.0)
        left = len(self.spool.pending(1_000_000)) if not self._thread.is_alive() else -1
        self.undelivered_requests = max(left, 0)
        if not self._thread.is_alive():
            self.spool.close(delete_if_done=True)
        return left == 0

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._options.flush_interval_s)
            self._wake.clear()
            try:
                self._maybe_heartbeat()
                self._spool_buffer()
                self._ship()
            except Exception:  # never let the sender die silently: the run would stop recording
                logger.exception("trainwire: sending failed unexpectedly; will retry")
                time.sleep(self._options.initial_backoff_s)
            if self._stopping and (self._past_deadline() or not self._has_work()):
                self._spool_buffer()  # on disk for `trainwire sync`, whatever happens next
                self._closed = True
                self._release_markers()
                return

    def _release_markers(self) -> None:
        """Answer every flush still waiting: what was not acknowledged by now was not delivered."""
        self._settle_markers()
        waiting = self._markers + [r for r in list(self._buffer) if isinstance(r, _FlushMarker)]
        for marker in waiting:
            marker.done.set()
        self._markers = []

    def _has_work(self) -> bool:
        return bool(self._buffer) or self._spooled_to > self.spool.acked_position()

    def _maybe_heartbeat(self) -> None:
        if self.heartbeat is None or self._stopping or self._clock() < self._next_heartbeat:
            return
        self._next_heartbeat = self._clock() + self._options.heartbeat_interval_s
        self._buffer.append(self.heartbeat())

    def _spool_buffer(self) -> None:
        """Encode what the training thread queued and append it to the spool (fsynced)."""
        wrote = False
        while self._buffer:
            metrics: list[MetricRecord | HistogramRecord] = []
            events: list[EventRecord] = []
            while (
                self._buffer and len(metrics) + len(events) < self._options.max_records_per_request
            ):
                record = self._buffer[0]
                if isinstance(record, (_FlushMarker, EncodedRequest)):
                    if metrics or events:
                        break  # spool what precedes it first
                    self._buffer.popleft()
                    if isinstance(record, EncodedRequest):
                        self._spooled_to = self.spool.append(record.signal, record.payload)
                        wrote = True
                        continue
                    record.target = self._spooled_to
                    self._markers.append(record)
                    continue
                is_metric = isinstance(record, (MetricRecord, HistogramRecord))
                (metrics if is_metric else events).append(record)
                self._buffer.popleft()
            try:
                if metrics:
                    request = encode_metrics(self._resource, self._scope, metrics)
                    payload = request.SerializeToString()
                    self._spooled_to = self.spool.append(SIGNAL_METRICS, payload)
                    wrote = True
                    metrics = []
                if events:
                    logs = self._encode_events(events)
                    if logs is not None:
                        self._spooled_to = self.spool.append(SIGNAL_LOGS, logs.SerializeToString())
                        wrote = True
            except OSError:
                # The disk refused (full?): keep the records, in order, and try again later.
                self._buffer.extendleft(reversed([*metrics, *events]))
                raise
        if wrote:
            self.spool.sync()
        self._settle_markers()

    def _encode_events(self, events: list[EventRecord]) -> Any:
        """Encode a batch; if one record cannot be encoded, keep all the others."""
        try:
            return encode_events(self._resource, self._scope, events)
        except (ValueError, RecursionError, TypeError):
            good = []
            for record in events:
                try:
                    encode_events(self._resource, self._scope, [record])
                    good.append(record)
                except (ValueError, RecursionError, TypeError) as exc:
                    logger.error(
                        "trainwire: dropped a %s event that cannot be encoded: %s", record.name, exc
                    )
            return encode_events(self._resource, self._scope, good) if good else None

    def _settle_markers(self) -> None:
        acked = self.spool.acked_position()
        for marker in list(self._markers):
            if marker.target is not None and marker.target <= acked:
                marker.delivered = True
                marker.done.set()
                self._markers.remove(marker)

    def _ship(self) -> None:
        """Send spooled requests in order until none is left, one fails for now, or time is up."""
        while not self._past_deadline():
            frames = self.spool.pending(16)
            if not frames:
                return
            for frame in frames:
                if not self._deliver(frame):
                    return
                self.spool.ack(frame)
                self._settle_markers()

    def _deliver(self, frame: Frame) -> bool:
        """Send one request until acknowledged or refused; False if the deadline came first."""
        backoff = self._options.initial_backoff_s
        attempt = 0
        while True:
            attempt += 1
            try:
                self._transport.export_raw(
                    frame.signal, frame.payload, timeout_s=self._options.request_timeout_s
                )
                self.sent_requests += 1
                return True
            except PermanentExportError as exc:
                self.dropped_requests += 1
                logger.error("trainwire: a request was refused and dropped: %s", exc)
                return True
            except RetryableExportError as exc:
                delay = exc.retry_after_s if exc.retry_after_s is not None else backoff
                delay *= random.uniform(0.8, 1.2)
                backoff = min(backoff * 2, self._options.max_backoff_s)
                (logger.warning if attempt == 1 else logger.debug)(
                    "trainwire: %s; retrying in %.1fs (data is kept in %s)",
                    exc,
                    delay,
                    self.spool.directory,
                )
                if not self._wait(delay):
                    return False

    def _wait(self, delay_s: float) -> bool:
        """Sleep before a retry while still spooling new records; False if past the deadline."""
        end = self._clock() + delay_s
        while self._clock() < end:
            if self._past_deadline():
                return False
            time.sleep(min(self._options.flush_interval_s, max(0.0, end - self._clock())))
            self._maybe_heartbeat()
            self._spool_buffer()  # memory stays bounded however long the outage
        return not self._past_deadline()

    def _past_deadline(self, after_s: float = 0.0) -> bool:
        return self._deadline is not None and self._clock() + after_s >= self._deadline
