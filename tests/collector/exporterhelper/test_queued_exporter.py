"""QueuedExporter: acknowledge on commit, deliver in the background, retry, give up, resume."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.exporterhelper import QueueConfig, QueuedExporter, RetryConfig
from trainwire.collector.extensions.storage import StorageConfig, StorageExtension
from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.testing import ComponentHost as Host

FAST_RETRY = RetryConfig(initial_interval_s=0.01, max_interval_s=0.05, max_elapsed_time_s=0)


class Destination:
    """A pusher whose next failures are scripted; records what it delivered."""

    def __init__(self) -> None:
        self.delivered: list[tuple[Signal, Any]] = []
        self.failures: list[Exception] = []
        self.attempts = 0
        self.started = False

    async def start(self, host: Any) -> None:
        self.started = True

    async def shutdown(self) -> None:
        self.started = False

    async def push(self, signal: Signal, request: Any) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append((signal, request))

    def values(self) -> list[float]:
        return [
            p.as_double
            for _, r in self.delivered
            if isinstance(r, ExportMetricsServiceRequest)
            for rm in r.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            for p in m.gauge.data_points
        ]


def _metrics(value: float) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="loss")
    metric.gauge.data_points.add(time_unix_nano=int(value * 1000) + 1, as_double=value)
    return request


def _end_event() -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.add(event_name="ml.run.end")
    return request


async def _exporter(
    tmp_path: Path,
    destination: Destination,
    *,
    queue: QueueConfig | None = None,
    retry: RetryConfig = FAST_RETRY,
    blocking: bool = False,
) -> tuple[QueuedExporter, Host]:
    storage = StorageExtension(
        StorageConfig(directory=str(tmp_path / "data")), id=ComponentID("storage")
    )
    host = Host(storage)
    await storage.start(host)
    exporter = QueuedExporter(
        destination,
        id=ComponentID("dest"),
        queue=queue or QueueConfig(storage="storage"),
        retry=retry,
        blocks_ingestion=blocking,
    )
    await exporter.start(host)
    return exporter, host


async def _until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    end = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < end, "condition not met in time"
        await asyncio.sleep(0.01)


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async test body with a deadline."""
    return asyncio.run(asyncio.wait_for(body(), 60))


def test_retryable_failures_are_retried_until_delivered_in_order(tmp_path: Path) -> None:
    """A destination failing with retryable errors gets everything, in order, once it recovers."""

    async def body() -> None:
        destination = Destination()
        destination.failures = [RetryableExportError("503")] * 3
        exporter, host = await _exporter(tmp_path, destination)
        for i in range(5):
            await exporter.consume_metrics(_metrics(float(i)))
        await _until(lambda: len(destination.values()) == 5)
        assert destination.values() == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert (
            host.telemetry.counter("otelcol_exporter_sent_metric_points", "", ("exporter",)).value(
                exporter="dest"
            )
            == 5
        )
        await exporter.shutdown()
        await host.storage.shutdown()

    run(body)


def test_permanent_failure_drops_the_request_and_counts_it(tmp_path: Path) -> None:
    """A request the destination refuses for good is dropped and counted; later ones still flow."""

    async def body() -> None:
        destination = Destination()
        destination.failures = [PermanentExportError("400 bad request")]
        exporter, host = await _exporter(
            tmp_path, destination, queue=QueueConfig(storage="storage", max_batch_requests=1)
        )
        await exporter.consume_metrics(_metrics(1.0))
        await exporter.consume_metrics(_metrics(2.0))
        await _until(lambda: destination.values() == [2.0])
        failed = host.telemetry.counter(
            "otelcol_exporter_send_failed_metric_points", "", ("exporter",)
        )
        assert failed.value(exporter="dest") == 1
        await exporter.shutdown()
        await host.storage.shutdown()

    run(body)


def test_retry_gives_up_after_max_elapsed_time(tmp_path: Path) -> None:
    """With max_elapsed_time_s set, a request that keeps failing is given up and counted."""

    async def body() -> None:
        destination = Destination()
        destination.failures = [RetryableExportError("down")] * 1000
        retry = RetryConfig(initial_interval_s=0.01, max_interval_s=0.02, max_elapsed_time_s=0.2)
        exporter, host = await _exporter(tmp_path, destination, retry=retry)
        await exporter.consume_metrics(_metrics(1.0))
        failed = host.telemetry.counter(
            "otelcol_exporter_send_failed_metric_points", "", ("exporter",)
        )
        await _until(lambda: failed.value(exporter="dest") == 1)
        assert exporter.queue is not None
        await _until(lambda: exporter.queue is not None and exporter.queue.size == 0)
        await exporter.shutdown()
        await host.storage.shutdown()

    run(body)


def test_queued_requests_survive_shutdown_and_are_sent_after_restart(tmp_path: Path) -> None:
    """What a failing destination could not take stays on disk and is delivered by the next start."""

    async def body() -> None:
        down = Destination()
        down.failures = [RetryableExportError("down")] * 10_000
        queue = QueueConfig(storage="storage", drain_timeout_s=0.2)
        exporter, host = await _exporter(tmp_path, down, queue=queue)
        for i in range(3):
            await exporter.consume_metrics(_metrics(float(i)))
        await exporter.shutdown()
        await host.storage.shutdown()
        assert down.delivered == []

        up = Destination()
        exporter, host = await _exporter(tmp_path, up, queue=queue)
        await _until(lambda: len(up.values()) == 3)
        assert up.values() == [0.0, 1.0, 2.0]
        await exporter.shutdown()
        await host.storage.shutdown()

    run(body)


def test_queued_requests_are_merged_into_one_delivery(tmp_path: Path) -> None:
    """Requests waiting in the queue are delivered together, up to max_batch_requests at a time."""

    async def body() -> None:
        destination = Destination()
        destination.failures = [RetryableExportError("busy")]  # let a backlog build
        exporter, host = await _exporter(
            tmp_path, destination, queue=QueueConfig(storage="storage", max_batch_requests=50)
        )
        for i in range(20):
            await exporter.consume_metrics(_metrics(float(i)))
        await _until(lambda: len(destination.values()) == 20)
        assert len(destination.delivered) < 20
        assert destination.values() == [float(i) for i in range(20)]
        await exporter.shutdown()
        await host.storage.shutdown()

    run(body)


def test_best_effort_exporter_that_fails_forever_stays_bounded_and_keeps_protected_events(
    tmp_path: Path,
) -> None:
    """A best-effort exporter whose destination never recovers keeps its queue bounded, counts drops and keeps run-end events."""

    async def body() -> None:
        destination = Destination()
        destination.failures = [RetryableExportError("500")] * 100_000
        queue = QueueConfig(storage="storage", queue_size=5, drain_timeout_s=0)
        exporter, host = await _exporter(tmp_path, destination, queue=queue)
        for i in range(50):
            await exporter.consume_metrics(_metrics(float(i)))
            if i % 10 == 0:
                await exporter.consume_logs(_end_event())
        assert exporter.queue is not None and exporter.queue.size <= 6
        dropped = host.telemetry.counter(
            "otelcol_exporter_queue_dropped_requests", "", ("exporter",)
        )
        assert dropped.value(exporter="dest") >= 40
        await exporter.shutdown()
        await host.storage.shutdown()
        # What is left on disk: every protected event not yet sent, and at most a few progress updates.
        reopened = Destination()
        exporter, host = await _exporter(tmp_path, reopened, queue=queue)
        await _until(lambda: exporter.queue is not None and exporter.queue.size == 0)
        ends = sum(len(r.resource_logs) for s, r in reopened.delivered if s is Signal.LOGS)
        assert ends == 5
        await exporter.shutdown()
        await host.storage.shutdown()

    run(body)


def test_system_of_record_queue_pushes_back_when_full(tmp_path: Path) -> None:
    """The blocking exporter's full queue refuses with a retryable error and counts the refusal."""

    async def body() -> None:
        destination = Destination()
        destination.failures = [RetryableExportError("locked")] * 100_000
        queue = QueueConfig(storage="storage", queue_size=3, drain_timeout_s=0)
        exporter, host = await _exporter(tmp_path, destination, queue=queue, blocking=True)
        for i in range(3):
            await exporter.consume_metrics(_metrics(float(i)))
        with pytest.raises(RetryableExportError, match="queue full"):
            await exporter.consume_metrics(_metrics(9.0))
        refused = host.telemetry.counter(
            "otelcol_exporter_enqueue_failed_metric_points", "", ("exporter",)
        )
        assert refused.value(exporter="dest") == 1
        await exporter.shutdown()
        await host.storage.shutdown()

    run(body)


def test_write_through_mode_passes_failures_to_the_caller(tmp_path: Path) -> None:
    """With the queue disabled the caller waits for the destination and sees its error."""

    async def body() -> None:
        destination = Destination()
        destination.failures = [RetryableExportError("locked", retry_after_s=2.0)]
        exporter, host = await _exporter(tmp_path, destination, queue=QueueConfig(enabled=False))
        with pytest.raises(RetryableExportError) as info:
            await exporter.consume_metrics(_metrics(1.0))
        assert info.value.retry_after_s == 2.0
        await exporter.consume_metrics(_metrics(2.0))
        assert destination.values() == [2.0]
        await exporter.shutdown()
        await host.storage.shutdown()

    run(body)


def test_missing_storage_extension_fails_start_with_the_fix(tmp_path: Path) -> None:
    """Naming a storage extension that is not configured fails at start and says how to add it."""

    async def body() -> None:
        with pytest.raises(
            Exception, match="not a started storage extension; add it under extensions"
        ):
            await _exporter(tmp_path, Destination(), queue=QueueConfig(storage="storage/missing"))

    run(body)


def test_unexpected_exporter_bug_is_bounded_by_max_elapsed_time(tmp_path: Path) -> None:
    """A request that makes the exporter raise an unexpected error is retried, then given up after max_elapsed_time_s, so it cannot block the queue forever."""

    async def body() -> None:
        destination = Destination()
        destination.failures = [OverflowError("timestamp out of range")] * 1000
        retry = RetryConfig(initial_interval_s=0.01, max_interval_s=0.02, max_elapsed_time_s=0.2)
        exporter, host = await _exporter(
            tmp_path,
            destination,
            retry=retry,
            queue=QueueConfig(storage="storage", max_batch_requests=1),
        )
        await exporter.consume_metrics(_metrics(1.0))
        failed = host.telemetry.counter(
            "otelcol_exporter_send_failed_metric_points", "", ("exporter",)
        )
        await _until(lambda: failed.value(exporter="dest") == 1)
        destination.failures = []
        await exporter.consume_metrics(_metrics(2.0))
        await _until(lambda: destination.values() == [2.0])
        await exporter.shutdown()
        await host.storage.shutdown()

    run(body)
