"""The ``discord`` exporter: a run's story and its alerts, posted to a Discord webhook.

A :class:`~trainwire.collector.exporterhelper.Pusher` behind the persistent queue,
so it never blocks ingestion. Logs requests carry the run events, posted in order
(start card, artifacts, alerts, end summary) and remembered by ``log.record.uid``;
metrics requests only update each run's latest values, the alert rules and the
host figures. Progress is posted by a background task, at most every
``update_interval_s`` per run and only while the rate-limit bucket has room, so
start, end and alert messages always go first and progress is coalesced.
Each run's compact summary is saved to storage (:class:`RunBook`; every 10 s and at
shutdown), so the end summary after a collector restart still covers the whole run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from trainwire import semconv
from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.collector.hostfigures import HostFiguresTracker, format_figures
from trainwire.errors import ConfigError, RetryableExportError
from trainwire.exporters.discord.client import (
    DiscordClient,
    DryRunTransport,
    RequestsTransport,
    Transport,
    WebhookGoneError,
)
from trainwire.exporters.discord.config import DiscordExporterConfig, parse_webhook_url
from trainwire.exporters.discord.events import RunEvents
from trainwire.exporters.discord.messages import (
    Post,
    alert_post,
    progress_embed,
)
from trainwire.exporters.discord.poster import Poster
from trainwire.exporters.discord.rules import Alert, RuleEngine
from trainwire.exporters.discord.runbook import RunBook
from trainwire.exporters.discord.runs import RunInfo, run_points
from trainwire.exporters.discord.state import DiscordState, MemoryKeyValue

__all__ = ["DiscordExporter"]

logger = logging.getLogger(__name__)

_RESERVED = 2
"""Requests of a bucket that progress leaves for run events and alerts."""


class DiscordExporter:
    """Posts run starts, progress, artifacts, alerts and end summaries to one webhook."""

    def __init__(
        self,
        config: DiscordExporterConfig,
        *,
        id: ComponentID,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.id = id
        self._transport = transport
        self._clock = clock
        self._wall_clock = wall_clock
        self.book: RunBook | None = None
        self.hosts = HostFiguresTracker()
        self.rules = RuleEngine(config.rules)
        self.poster: Poster | None = None
        self.events: RunEvents | None = None
        self.gone = False
        """The webhook was deleted (404): nothing more is posted."""
        self._pending_alerts: list[Alert] = []
        self._alert_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._host: Host | None = None

    async def start(self, host: Host) -> None:
        """Open the state, the HTTP transport and start the progress task."""
        self._host = host
        parsed = parse_webhook_url(self.config.webhook_url)
        if parsed is None:
            raise ConfigError(f"exporters::{self.id}::webhook_url: not a Discord webhook URL")
        store: Any = MemoryKeyValue()
        if self.config.storage:
            extension = host.get_extension(ComponentID.parse(self.config.storage))
            client = getattr(extension, "client", None)
            if client is None:
                raise ConfigError(
                    f"exporters::{self.id}::storage: '{self.config.storage}' is not a started"
                    " storage extension; add it under extensions: and to service::extensions"
                )
            store = client(self.id)
        if self._transport is None:
            self._transport = DryRunTransport() if self.config.dry_run else RequestsTransport()
        client_ = DiscordClient(
            self.config.webhook_url.strip(),
            bucket=parsed[0],
            transport=self._transport,
            timeout_s=self.config.timeout_s,
        )
        self.poster = Poster(
            self.config, client=client_, state=DiscordState(store), name=str(self.id)
        )
        self.book = RunBook(
            self.poster.state,
            self.rules,
            self._pending_alerts,
            chart_metrics=self.config.chart_metrics,
            retention_s=self.config.state_retention_s,
            clock=self._clock,
            wall_clock=self._wall_clock,
        )
        self.events = RunEvents(self, self.poster, self.book)
        interval = self.config.update_interval_s
        self._task = asyncio.create_task(self._progress_loop(interval), name=f"{self.id} progress")
        logger.info(
            "%s: posting to Discord webhook %s (%s mode)", self.id, parsed[0], self.config.mode
        )

    @property
    def runs(self) -> dict[str, RunInfo]:
        """The runs seen so far (none before start)."""
        return self.book.runs if self.book is not None else {}

    async def push(self, signal: Signal, request: Any) -> None:
        """Take one request off the queue: events are posted, metrics update the runs."""
        if self.gone or self.poster is None or self.events is None:
            return
        try:
            if signal is Signal.METRICS:
                await self._observe_metrics(request)
                await self.flush_alerts()
            elif signal is Signal.LOGS:
                await self.events.handle(request)
        except WebhookGoneError as exc:
            self._stop(exc)

    async def _observe_metrics(self, request: Any) -> None:
        self.hosts.observe(request)
        for attributes, points in run_points(request):
            assert self.book is not None
            run = await self.book.load(str(attributes[semconv.ML_RUN_ID]))
            run.host = run.host or str(attributes.get(semconv.HOST_NAME) or "")
            run.experiment = run.experiment or str(attributes.get(semconv.ML_EXPERIMENT_NAME) or "")
            if run.ended and run.status == semconv.STATUS_CRASHED:
                run.ended = False  # "crashed" is provisional: later data revives the run
            if run.ended:
                continue
            for point in points:
                run.observe(point.metric, point.value, point.step)
                self._pending_alerts.extend(self.rules.check_point(run, point))

    def alerts_wanted(self) -> bool:
        """Whether alerts are posted at all."""
        return "alerts" in self.config.events

    async def flush_alerts(self) -> None:
        """Post the alerts the rules raised; those that fail stay pending (never lost)."""
        if not self._pending_alerts:
            return
        assert self.poster is not None
        async with self._alert_lock:
            while self._pending_alerts:
                alert = self._pending_alerts[0]
                if self.book is not None:
                    self.book.changed(alert.run_id)  # its summary no longer lists it pending
                run = self.runs.get(alert.run_id)
                if self.alerts_wanted():
                    post = alert_post(run, alert.title, alert.text, alert.level)
                    thread = run.name if run is not None else alert.run_id
                    await self.poster.post(alert.run_id, thread, post, alert.uid)
                self._pending_alerts.pop(0)

    def host_line(self, run: RunInfo) -> str | None:
        """The one-line CPU/RAM/GPU figures of the run's host, when a receiver reports them."""
        figures = self.hosts.latest(run.host) if run.host else None
        return format_figures(figures) if figures is not None else None

    async def _progress_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(min(1.0, interval / 4))
            if self.gone:
                return
            try:
                self._check_gpus()
                await self.flush_alerts()
                await self._post_progress(interval)
                if self.book is not None:
                    await self.book.save()
                    await self.book.prune()
            except WebhookGoneError as exc:
                self._stop(exc)
                return
            except RetryableExportError as exc:
                logger.debug("%s: progress not posted this time: %s", self.id, exc)
            except Exception:  # a bug must not end progress for good
                logger.exception("%s: posting progress failed", self.id)

    def _check_gpus(self) -> None:
        if not any(rule.type == "gpu_temperature" for rule in self.rules.rules):
            return
        for run in self.runs.values():
            figures = self.hosts.latest(run.host) if run.host and not run.ended else None
            if figures is not None:
                temperatures = [gpu.temperature_c for gpu in figures.gpus]
                self._pending_alerts.extend(self.rules.check_gpus(run, temperatures))

    async def _post_progress(self, interval: float) -> None:
        if "progress" not in self.config.events:
            return
        assert self.poster is not None
        now = self._clock()
        due = []
        for run in self.runs.values():
            if not run.progress_dirty or run.ended or now - run.last_progress_s < interval:
                continue
            announced = await self.poster.state.started(run.run_id)
            if announced or now - run.first_seen_s >= interval:
                due.append(run)
        if self.config.mode == "forum":
            for run in due:
                if not self.poster.client.has_room(_RESERVED):
                    return
                await self._post_runs([run], now)
            return
        # Channel mode: several runs share a message (up to 10 embeds).
        for start in range(0, len(due), 10):
            if not self.poster.client.has_room(_RESERVED):
                return
            await self._post_runs(due[start : start + 10], now)

    async def _post_runs(self, runs: list[RunInfo], now: float) -> None:
        assert self.poster is not None
        embeds = [progress_embed(run, self.host_line(run)) for run in runs]
        for run in runs:
            run.progress_dirty = False
            run.last_progress_s = now
        run_id = runs[0].run_id if self.config.mode == "forum" else None
        await self.poster.post(run_id, runs[0].name, Post(embeds))

    def _stop(self, exc: Exception) -> None:
        if self.gone:
            return
        self.gone = True
        message = (
            f"{self.id}: the Discord webhook is gone or its token is invalid ({exc});"
            " this exporter stops posting."
            " Create a new webhook and set webhook_url, then restart the collector"
        )
        logger.error("%s", message)

    async def shutdown(self) -> None:
        """Stop the progress task and close the transport; safe before start and twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            try:
                if self.book is not None:
                    await self.book.save(force=True)
            except Exception as exc:  # storage already closed: the next start reads older ones
                logger.warning("%s: run summaries not saved at shutdown: %s", self.id, exc)
        close = getattr(self._transport, "close", None)
        if callable(close):
            close()
