"""The batch processor merges concurrent requests and never acknowledges before downstream does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from trainwire.collector.component import ComponentID
from trainwire.collector.processors.batch import BatchProcessor, BatchProcessorConfig
from trainwire.errors import RetryableExportError

ID = ComponentID("batch")


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    """Run one scenario on a fresh event loop, failing instead of hanging."""
    return asyncio.run(asyncio.wait_for(body(), 10))


def metrics(*names: str, points: int = 1, run_id: str = "r1") -> ExportMetricsServiceRequest:
    """One resource (a run) with one scope holding gauges ``names`` of ``points`` points each."""
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="ml.run.id").value.string_value = run_id
    scope = resource.scope_metrics.add()
    scope.scope.name = "trainwire"
    for name in names:
        metric = scope.metrics.add(name=name, unit="1")
        for i in range(points):
            metric.gauge.data_points.add(time_unix_nano=i + 1, as_double=float(i))
    return request


def logs(count: int, run_id: str = "r1") -> ExportLogsServiceRequest:
    """One resource with ``count`` log records whose bodies are their indexes."""
    request = ExportLogsServiceRequest()
    resource = request.resource_logs.add()
    resource.resource.attributes.add(key="ml.run.id").value.string_value = run_id
    scope = resource.scope_logs.add()
    for i in range(count):
        scope.log_records.add(time_unix_nano=i + 1).body.string_value = str(i)
    return request


def points(request: ExportMetricsServiceRequest) -> list[tuple[str, str, int]]:
    """(run id, metric name, time) of every point, in order."""
    return [
        (rm.resource.attributes[0].value.string_value, m.name, p.time_unix_nano)
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        for p in m.gauge.data_points
    ]


def processor(sink: Any, **settings: Any) -> BatchProcessor:
    return BatchProcessor(BatchProcessorConfig(**settings), id=ID, next_consumer=sink)


def test_concurrent_calls_are_merged_into_one_downstream_request(sink: Any, host: Any) -> None:
    """Requests arriving within the timeout reach downstream as one request holding each in order."""
    batch = processor(sink, timeout_s=0.05)

    async def scenario() -> None:
        await batch.start(host)
        await asyncio.gather(*(batch.consume_metrics(metrics("loss", run_id=r)) for r in "abc"))
        await batch.shutdown()

    run(scenario)
    assert len(sink.metrics) == 1
    assert points(sink.metrics[0]) == [("a", "loss", 1), ("b", "loss", 1), ("c", "loss", 1)]
    assert (
        host.telemetry.counter(
            "otelcol_processor_batch_timeout_trigger_send", "", ("processor",)
        ).value(processor="batch")
        == 1
    )


@pytest.mark.parametrize(("merge_resources", "resources"), [(True, 1), (False, 2)])
def test_equal_resources_are_merged_when_asked(
    sink: Any, host: Any, merge_resources: bool, resources: int
) -> None:
    """Two requests of the same run become one resource entry only with merge_resources."""
    batch = processor(sink, timeout_s=0.05, merge_resources=merge_resources)

    async def scenario() -> None:
        await batch.start(host)
        await asyncio.gather(
            batch.consume_metrics(metrics("a")), batch.consume_metrics(metrics("b"))
        )

    run(scenario)
    (merged,) = sink.metrics
    assert len(merged.resource_metrics) == resources
    assert [name for _, name, _ in points(merged)] == ["a", "b"]


def test_every_caller_gets_the_downstream_error(sink: Any, host: Any) -> None:
    """When the merged request fails downstream, each caller whose data it carried gets that very exception."""
    error = RetryableExportError("store is busy", retry_after_s=2.0)
    sink.error = error
    batch = processor(sink, timeout_s=0.05)

    async def scenario() -> list[Any]:
        await batch.start(host)
        return await asyncio.gather(
            *(batch.consume_metrics(metrics("loss")) for _ in range(3)), return_exceptions=True
        )

    results = run(scenario)
    assert len(results) == 3 and all(result is error for result in results)
    assert sink.calls == 1  # one downstream call carried all three


def test_caller_returns_only_after_downstream_returned(sink: Any, host: Any) -> None:
    """A caller stays waiting past the timeout while the downstream call carrying its data is in progress."""
    batch = processor(sink, timeout_s=0.01)

    async def scenario() -> None:
        sink.gate = asyncio.Event()
        await batch.start(host)
        call = asyncio.ensure_future(batch.consume_metrics(metrics("loss")))
        await asyncio.sleep(0.1)
        assert sink.calls == 1 and not call.done()
        sink.gate.set()
        await call

    run(scenario)
    assert len(sink.metrics) == 1


def test_batch_size_sends_without_waiting_for_the_timeout(sink: Any, host: Any) -> None:
    """Reaching send_batch_size sends the batch at once, even with a long timeout."""
    batch = processor(sink, timeout_s=30, send_batch_size=4)

    async def scenario() -> None:
        await batch.start(host)
        await asyncio.wait_for(
            asyncio.gather(
                batch.consume_metrics(metrics("loss", points=2)),
                batch.consume_metrics(metrics("acc", points=2)),
            ),
            2,
        )

    run(scenario)
    assert len(sink.metrics) == 1 and len(points(sink.metrics[0])) == 4
    assert (
        host.telemetry.counter(
            "otelcol_processor_batch_batch_size_trigger_send", "", ("processor",)
        ).value(processor="batch")
        == 1
    )


def test_oversized_request_is_split_into_batches_of_the_max_size(sink: Any, host: Any) -> None:
    """A request above send_batch_max_size goes downstream in parts of at most that many points, in order."""
    batch = processor(sink, timeout_s=0.01, send_batch_size=3, send_batch_max_size=3)
    request = metrics("loss", "acc", points=4)
    request.resource_metrics[0].scope_metrics[0].metrics[1].gauge.data_points[0].attributes.add(
        key="split"
    ).value.bool_value = True

    async def scenario() -> None:
        await batch.start(host)
        await batch.consume_metrics(request)

    run(scenario)
    assert [len(points(r)) for r in sink.metrics] == [3, 3, 2]
    assert [p for r in sink.metrics for p in points(r)] == points(request)
    second = sink.metrics[1].resource_metrics[0]
    assert second.resource == request.resource_metrics[0].resource
    assert second.scope_metrics[0].scope.name == "trainwire"
    assert [m.unit for m in second.scope_metrics[0].metrics] == ["1", "1"]
    assert second.scope_metrics[0].metrics[1].gauge.data_points[0].attributes[0].key == "split"


def test_a_request_fills_the_room_left_in_the_current_batch(sink: Any, host: Any) -> None:
    """With a cap, a request joining a partly filled batch tops it up and carries its rest into the next."""
    batch = processor(sink, timeout_s=0.05, send_batch_size=4, send_batch_max_size=4)

    async def scenario() -> None:
        await batch.start(host)
        await asyncio.gather(batch.consume_logs(logs(3)), batch.consume_logs(logs(3, "r2")))

    run(scenario)
    sizes = [
        sum(len(sl.log_records) for rl in r.resource_logs for sl in rl.scope_logs)
        for r in sink.logs
    ]
    assert sizes == [4, 2]


def test_shutdown_flushes_what_is_waiting(sink: Any, host: Any) -> None:
    """Shutdown sends a waiting batch at once and returns after it was taken; later calls pass straight on."""
    batch = processor(sink, timeout_s=30)

    async def scenario() -> None:
        await batch.start(host)
        call = asyncio.ensure_future(batch.consume_logs(logs(2)))
        await asyncio.sleep(0)
        assert sink.logs == []
        await batch.shutdown()
        assert call.done() and len(sink.logs) == 1
        await batch.consume_logs(logs(1))
        assert len(sink.logs) == 2
        await batch.shutdown()

    run(scenario)


def test_spans_are_batched_too(sink: Any, host: Any) -> None:
    """Trace requests are merged like the other signals."""
    batch = processor(sink, timeout_s=0.05)
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(name="train_step")

    async def scenario() -> None:
        await batch.start(host)
        await asyncio.gather(batch.consume_traces(request), batch.consume_traces(request))

    run(scenario)
    (merged,) = sink.traces
    assert [s.name for rs in merged.resource_spans for ss in rs.scope_spans for s in ss.spans] == [
        "train_step",
        "train_step",
    ]


def test_a_cancelled_caller_does_not_cancel_the_batch(sink: Any, host: Any) -> None:
    """When one caller gives up waiting, the batch still goes downstream and the others get its result."""
    batch = processor(sink, timeout_s=0.05)

    async def scenario() -> None:
        await batch.start(host)
        quitter = asyncio.ensure_future(batch.consume_metrics(metrics("a")))
        stayer = asyncio.ensure_future(batch.consume_metrics(metrics("b")))
        await asyncio.sleep(0)
        quitter.cancel()
        await stayer

    run(scenario)
    assert [name for _, name, _ in points(sink.metrics[0])] == ["a", "b"]
