"""The liveness connector: notice runs that died without saying so, and runs that hang.

It is an exporter of the metrics and logs pipelines and a receiver of a logs
pipeline. For each run rank (a Resource with ``ml.run.id`` and ``ml.run.rank``) it
keeps the wall-clock time data last arrived, durably in the storage extension
(written at most every few seconds, and always before it acts on it). A rank silent
for ``heartbeat_timeout_s`` gets an ``ml.run.end`` with status ``crashed``; the
store treats that as provisional, so later data revives the run and a real end
overrides it. Heartbeats whose ``last_log_time`` stays put for ``stall_timeout_s``
raise one "run stalled" ``ml.alert``, re-armed once the run logs again. After a
restart, every rank gets one timeout of grace from the collector's start, so a
short outage does not mark every run crashed. See DESIGN.md, "Liveness".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.collector.connectors.liveness.config import LivenessConfig
from trainwire.collector.connectors.liveness.events import (
    crash_request,
    end_status,
    last_log_time,
    stall_request,
)
from trainwire.collector.connectors.liveness.state import RankKey, RankState, rank_key
from trainwire.collector.rundirectory import run_directory
from trainwire.errors import ConfigError
from trainwire.records import event_name

__all__ = ["LivenessConnector"]

logger = logging.getLogger(__name__)

_PERSIST_INTERVAL_NS = 5_000_000_000
"""Last-seen times reach storage at most this often (a restart gives a timeout of grace)."""


class LivenessConnector:
    """Declares silent run ranks crashed and stalled ones alerted, into its logs pipeline."""

    def __init__(
        self,
        config: LivenessConfig,
        *,
        id: ComponentID,
        next_consumers: Mapping[Signal, Any],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.id = id
        self._next = next_consumers.get(Signal.LOGS)
        self._clock = clock
        self._timeout_ns = int(config.timeout_s * 1e9)
        self._stall_ns = int(config.stall_timeout_s * 1e9)
        # "Heartbeats keep coming": heard from within two heartbeats and a retry.
        self._recent_ns = int((2 * config.heartbeat_interval_s + config.sdk_max_backoff_s) * 1e9)
        self.ranks: dict[RankKey, RankState] = {}
        """The run ranks being watched."""
        self._dirty: set[RankKey] = set()
        self._deleted: set[str] = set()
        self._flush_soon = False  # a new rank or a stall flag: don't wait for the interval
        self._ended: dict[RankKey, int] = {}  # ended ranks: ignore late data until this time
        self._storage: Any = None
        self._started_ns = 0
        self._persisted_ns = 0
        self._task: asyncio.Task[None] | None = None
        self._counters: dict[str, Any] = {}

    async def start(self, host: Host) -> None:
        """Load the last-seen times kept by a previous run, then start checking."""
        if self.config.storage:
            extension = host.get_extension(ComponentID.parse(self.config.storage))
            client = getattr(extension, "client", None)
            if client is None:
                raise ConfigError(
                    f"connectors::{self.id}::storage: '{self.config.storage}' is not a started"
                    " storage extension; add it under extensions: and to service::extensions"
                )
            self._storage = client(self.id)
            await asyncio.to_thread(self._load)
        else:
            logger.warning(
                "%s connector: no storage configured; a collector restart forgets silent runs",
                self.id,
            )
        self._started_ns = self._now()
        self._register_telemetry(host)
        self._task = asyncio.create_task(self._loop(), name=f"check {self.id}")
        logger.info(
            "%s connector: watching %d run ranks; silent for %gs means crashed",
            self.id,
            len(self.ranks),
            self.config.timeout_s,
        )

    def _load(self) -> None:
        for key, value in self._storage.items().items():
            try:
                state = RankState.decode(value)
            except ValueError as exc:
                logger.warning("%s connector: ignoring stored record %r: %s", self.id, key, exc)
                continue
            self.ranks[state.key] = state
            run_directory().add(state.resource)

    def _register_telemetry(self, host: Host) -> None:
        labels = {"connector": str(self.id)}
        host.telemetry.gauge(
            "otelcol_connector_liveness_ranks", "Run ranks being watched.", ("connector",)
        ).set_function(lambda: float(len(self.ranks)), **labels)
        for what in ("crashed", "stalled"):
            self._counters[what] = host.telemetry.counter(
                f"otelcol_connector_liveness_{what}_ranks",
                f"Run ranks declared {what}.",
                ("connector",),
            )

    async def consume_metrics(self, request: ExportMetricsServiceRequest) -> None:
        """Note that each run rank in ``request`` is alive."""
        now = self._now()
        for resource_metrics in request.resource_metrics:
            self._seen(resource_metrics.resource, now)

    async def consume_logs(self, request: ExportLogsServiceRequest) -> None:
        """Note live run ranks, their progress, and those that ended."""
        now = self._now()
        for resource_logs in request.resource_logs:
            key = rank_key(resource_logs.resource)
            if key is None:
                continue
            events = [(event_name(r), r) for sl in resource_logs.scope_logs for r in sl.log_records]
            if any(name == semconv.EVENT_RUN_START for name, _ in events):
                self._ended.pop(key, None)  # resumed
            ends = [r for name, r in events if name == semconv.EVENT_RUN_END]
            if ends:
                crashed = all(end_status(r) == semconv.STATUS_CRASHED for r in ends)
                self._forget(key, now, crashed=crashed)
                continue
            state = self._seen(resource_logs.resource, now, key)
            if state is None:
                continue
            for name, record in events:
                if name == semconv.EVENT_RUN_HEARTBEAT:
                    self._progress(state, last_log_time(record), now)

    def _seen(self, resource: Resource, now: int, key: RankKey | None = None) -> RankState | None:
        key = key or rank_key(resource)
        if key is None or self._ended.get(key, 0) > now:
            return None
        state = self.ranks.get(key)
        if state is None:
            state = RankState(key[0], key[1], resource.SerializeToString(), now)
            self.ranks[key] = state
            run_directory().add(state.resource)  # for the nvml and hostmetrics receivers
            self._flush_soon = True
            self._deleted.discard(state.storage_key)
        state.last_seen_ns = max(state.last_seen_ns, now)
        self._dirty.add(key)
        return state

    def _progress(self, state: RankState, last_log_time: int | None, now: int) -> None:
        if last_log_time is None:
            return
        if state.last_log_time is None or last_log_time > state.last_log_time:
            state.last_log_time = last_log_time
            state.log_moved_ns = now
            state.stalled = False  # re-arm

    def _forget(self, key: RankKey, now: int, *, crashed: bool) -> None:
        state = self.ranks.pop(key, None)
        run_directory().remove(*key)
        self._dirty.discard(key)
        if state is not None:
            self._deleted.add(state.storage_key)
        if not crashed:  # data still in flight after a real end must not bring it back
            self._ended[key] = now + self._timeout_ns

    async def check(self) -> None:
        """Declare silent ranks crashed and stalled ones alerted, as of now; then persist.

        The background task calls this every ``check_interval_s``.
        """
        now = self._now()
        crashed: list[RankState] = []
        stalled: list[RankState] = []
        for state in self.ranks.values():
            if now - max(state.last_seen_ns, self._started_ns) >= self._timeout_ns:
                crashed.append(state)
            elif self._stalled(state, now):
                stalled.append(state)
        if not self.config.declare:  # an agent: the gateway declares; forget the silent
            for state in crashed:
                self._forget(state.key, now, crashed=True)
            stalled = []
        for state in crashed if self.config.declare else ():
            await self._declare_crashed(state, now)
        for state in stalled:
            await self._declare_stalled(state, now)
        self._ended = {k: until for k, until in self._ended.items() if until > now}
        await self._persist(now)

    def _stalled(self, state: RankState, now: int) -> bool:
        if not self._stall_ns or state.last_log_time is None or state.stalled:
            return False
        if now - state.last_seen_ns > self._recent_ns:
            return False  # not a stall: the heartbeats stopped too
        return now - max(state.log_moved_ns, self._started_ns) >= self._stall_ns

    async def _declare_crashed(self, state: RankState, now: int) -> None:
        seen = state.last_seen_ns
        if self._storage is not None:  # a restart must rebuild the same uid
            await asyncio.to_thread(self._storage.set, state.storage_key, state.encode())
        if self.ranks.get(state.key) is not state or state.last_seen_ns != seen:
            return  # it ended or spoke up meanwhile
        if not await self._emit(crash_request(state, now_ns=now, timeout_s=self.config.timeout_s)):
            return
        self._count("crashed")
        logger.warning(
            "%s connector: run %s rank %d silent for %.0f s: marked crashed",
            self.id,
            state.run_id,
            state.rank,
            (now - seen) / 1e9,
        )
        if self.ranks.get(state.key) is state and state.last_seen_ns == seen:
            self._forget(state.key, now, crashed=True)

    async def _declare_stalled(self, state: RankState, now: int) -> None:
        if not await self._emit(stall_request(state, now_ns=now)):
            return
        self._count("stalled")
        logger.warning(
            "%s connector: run %s rank %d has heartbeats but no progress: stalled",
            self.id,
            state.run_id,
            state.rank,
        )
        state.stalled = True
        self._dirty.add(state.key)
        self._flush_soon = True

    async def _emit(self, request: ExportLogsServiceRequest) -> bool:
        if self._next is None:
            return True
        try:
            await self._next.consume_logs(request)
        except Exception as exc:  # e.g. the store's queue is full: try again next check
            logger.warning("%s connector: could not emit, will retry: %s", self.id, exc)
            return False
        return True

    async def _persist(self, now: int, *, force: bool = False) -> None:
        if self._storage is None:
            self._dirty.clear()
            return
        due = now - self._persisted_ns >= _PERSIST_INTERVAL_NS
        if not (force or self._flush_soon or self._deleted or (self._dirty and due)):
            return
        dirty, deleted = set(self._dirty), set(self._deleted)
        values = {self.ranks[k].storage_key: self.ranks[k].encode() for k in dirty}
        self._dirty.clear()
        self._deleted.clear()
        self._flush_soon = False
        self._persisted_ns = now
        try:
            await asyncio.to_thread(self._write, values, deleted)
        except BaseException:  # keep what was not written for the next try
            self._dirty |= dirty & self.ranks.keys()
            self._deleted |= deleted
            raise

    def _write(self, values: dict[str, bytes], deleted: set[str]) -> None:
        if values:
            self._storage.set_many(values)
        for key in deleted - set(values):
            self._storage.delete(key)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.check_interval_s)
            try:
                await self.check()
            except Exception:  # the watchdog must outlive a bad record or a disk hiccup
                logger.exception("%s connector: check failed; will try again", self.id)

    def _count(self, what: str) -> None:
        counter = self._counters.get(what)
        if counter is not None:
            counter.add(1, connector=str(self.id))

    def _now(self) -> int:
        return int(self._clock() * 1e9)

    async def shutdown(self) -> None:
        """Stop checking and write what is known; safe before start and twice."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self._persist(self._now(), force=True)
        self._storage = None
