"""Run events (OTLP LogRecords) → what the run's card says and what gets posted."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from trainwire import semconv
from trainwire.anyvalue import from_any_value
from trainwire.exporters.discord.messages import alert_post, artifact_post, end_post, start_post
from trainwire.exporters.discord.poster import Poster
from trainwire.exporters.discord.runbook import RunBook
from trainwire.exporters.discord.runs import RunInfo, resource_attributes
from trainwire.records import event_name

if TYPE_CHECKING:
    from trainwire.exporters.discord.discord import DiscordExporter

__all__ = ["RunEvents", "event_uid"]

logger = logging.getLogger(__name__)

_FAILED = (semconv.STATUS_FAILED, semconv.STATUS_CRASHED)


def event_uid(run_id: str, record: LogRecord, name: str) -> str:
    """The record's ``log.record.uid``, or a digest of what it is when the sender set none."""
    for kv in record.attributes:
        if kv.key == semconv.LOG_RECORD_UID and kv.value.string_value:
            return kv.value.string_value
    digest = hashlib.sha256(
        f"{run_id}\x00{name}\x00{record.time_unix_nano}\x00".encode()
        + record.body.SerializeToString()
    )
    return "digest:" + digest.hexdigest()[:32]


def _rank(value: Any) -> int:
    """``ml.run.rank`` as an int (senders may set it as a string); absent → 0."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class RunEvents:
    """Applies each run event to its :class:`RunInfo` and posts what the config asks for."""

    def __init__(self, exporter: DiscordExporter, poster: Poster, book: RunBook) -> None:
        self.exporter = exporter
        self.poster = poster
        self.book = book
        self.wanted = set(exporter.config.events)
        self._artifact_store: Any = None
        directory = exporter.config.artifacts.directory
        if directory:
            from trainwire.collector.artifacts import BlobStore

            self._artifact_store = BlobStore(directory, max_blob_bytes=2**63 - 1)

    async def handle(self, request: ExportLogsServiceRequest) -> None:
        """Handle every run event of ``request``, in order."""
        for resource_logs in request.resource_logs:
            attributes = resource_attributes(resource_logs.resource)
            run_id = attributes.get(semconv.ML_RUN_ID)
            if not run_id:
                continue
            run = await self.book.load(str(run_id))
            run.host = run.host or str(attributes.get(semconv.HOST_NAME) or "")
            rank = _rank(attributes.get(semconv.ML_RUN_RANK))
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    name = event_name(record)
                    if name and name not in (semconv.EVENT_RUN_HEARTBEAT, semconv.EVENT_CONSOLE):
                        await self._event(run, rank, name, record)

    async def _event(self, run: RunInfo, rank: int, name: str, record: LogRecord) -> None:
        body = from_any_value(record.body) if record.HasField("body") else None
        body = body if isinstance(body, Mapping) else {}
        uid = event_uid(run.run_id, record, name)
        if name == semconv.EVENT_RUN_START:
            if rank == 0:
                await self._start(run, body, uid)
        elif name == semconv.EVENT_RUN_PARAMS:
            run.params.update(body)
        elif name == semconv.EVENT_RUN_TAGS:
            run.apply_tags(dict(body))
        elif name == semconv.EVENT_RUN_RENAME:
            run.name = str(body.get("name") or run.name)
        elif name == semconv.EVENT_RUN_METRIC_SPEC and body.get("key"):
            run.goals[str(body["key"])] = "max" if body.get("goal") == "max" else "min"
        elif name == semconv.EVENT_RUN_SUMMARY:
            run.summary.update(body)
        elif name == semconv.EVENT_ALERT and "alerts" in self.wanted:
            title = str(body.get("title") or "alert")
            post = alert_post(
                run, title, str(body.get("text") or ""), str(body.get("level") or "warn")
            )
            await self.poster.post(run.run_id, run.name, post, uid)
        elif name == semconv.EVENT_ARTIFACT and "artifacts" in self.wanted:
            data = await asyncio.to_thread(self._blob, body)
            post = artifact_post(
                run, body, data, max_bytes=self.exporter.config.max_attachment_bytes
            )
            await self.poster.post(run.run_id, run.name, post, uid)
        elif name == semconv.EVENT_RUN_END:
            await self._end(run, rank, body, record, uid)

    async def _start(self, run: RunInfo, body: Mapping[str, Any], uid: str) -> None:
        run.name = str(body.get("name") or run.name)
        run.experiment = str(body.get("experiment") or run.experiment)
        run.group = str(body.get("group") or "")
        config = body.get("config")
        if isinstance(config, Mapping):
            run.params.update(config)
        tags = body.get("tags")
        if isinstance(tags, list):
            run.tags = [str(t) for t in tags]
        git = body.get("git")
        run.git = dict(git) if isinstance(git, Mapping) else {}
        run.ended = False
        if "start" in self.wanted:
            seen = await self.poster.state.started(run.run_id)
            post = start_post(run, body, seen_before=seen)
            await self.poster.post(run.run_id, run.name, post, uid)
        await self.poster.state.mark_started(run.run_id)

    async def _end(
        self, run: RunInfo, rank: int, body: Mapping[str, Any], record: LogRecord, uid: str
    ) -> None:
        status = str(body.get("status") or semconv.STATUS_COMPLETED)
        exception = {
            kv.key: kv.value.string_value
            for kv in record.attributes
            if kv.key.startswith("exception.")
        }
        failed = status in _FAILED
        if rank != 0:
            if failed and "alerts" in self.wanted:
                text = str(body.get("reason") or exception.get(semconv.EXCEPTION_MESSAGE) or "")
                post = alert_post(run, f"rank {rank} {status}", text, "error")
                await self.poster.post(run.run_id, run.name, post, uid)
            return
        run.ended = True
        run.status = status
        self.exporter.rules.forget(run.run_id)
        await self.book.ended(run)
        if "end" in self.wanted:
            post = end_post(
                run,
                body,
                exception,
                chart_metrics=list(self.exporter.config.chart_metrics),
                mention=failed,
            )
            await self.poster.post(run.run_id, run.name, post, uid)
        elif failed and "alerts" in self.wanted:
            text = str(body.get("reason") or exception.get(semconv.EXCEPTION_MESSAGE) or "")
            await self.poster.post(
                run.run_id, run.name, alert_post(run, f"run {status}", text, "error"), uid
            )

    def _blob(self, body: Mapping[str, Any]) -> bytes | None:
        """The artifact's bytes when the store has them and they are within the limit."""
        if self._artifact_store is None:
            return None
        sha256 = str(body.get("sha256") or "")
        limit = self.exporter.config.max_attachment_bytes
        try:
            if int(body.get("size") or 0) > limit:
                return None
            path = self._artifact_store.blob_path(sha256)
            data = path.read_bytes() if path.stat().st_size <= limit else None
        except Exception as exc:  # missing or malformed: post a line instead
            logger.debug("artifact %s not attached: %s", sha256[:12], exc)
            return None
        return data
