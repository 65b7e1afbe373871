"""The memory limiter refuses data, retryably, while resident memory is above its soft limit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire.collector.component import ComponentID
from trainwire.collector.processors.memory_limiter import (
    MemoryLimiterProcessor,
    MemoryLimiterProcessorConfig,
    read_available_memory_bytes,
    read_rss_bytes,
)
from trainwire.errors import RetryableExportError

ID = ComponentID("memory_limiter")
MIB = 1 << 20


class FakeMemory:
    """Resident memory that a test sets; the garbage collector frees ``freed_by_gc`` bytes."""

    def __init__(
        self, rss_mib: int, *, available_mib: int = 10_000, freed_by_gc_mib: int = 0
    ) -> None:
        self.rss = rss_mib * MIB
        self.available = available_mib * MIB
        self.freed_by_gc = freed_by_gc_mib * MIB
        self.collections = 0

    def read_rss(self) -> int:
        return self.rss

    def read_available(self) -> int:
        return self.available

    def collect(self) -> int:
        self.collections += 1
        self.rss -= self.freed_by_gc
        return 0


def limiter(sink: Any, memory: FakeMemory, **settings: Any) -> MemoryLimiterProcessor:
    config = MemoryLimiterProcessorConfig(**{"check_interval_s": 3600, **settings})
    return MemoryLimiterProcessor(
        config,
        id=ID,
        next_consumer=sink,
        read_rss=memory.read_rss,
        read_available=memory.read_available,
        collect_garbage=memory.collect,
    )


def metrics(points: int) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="loss")
    for t in range(points):
        metric.gauge.data_points.add(time_unix_nano=t + 1)
    return request


def refused(host: Any, unit: str) -> float:
    return host.telemetry.counter(f"otelcol_processor_refused_{unit}", "", ("processor",)).value(
        processor="memory_limiter"
    )


def test_refuses_above_the_soft_limit_and_accepts_again_below(sink: Any, host: Any) -> None:
    """Above limit - spike, consume raises RetryableExportError with a Retry-After and counts the refusal; below, data flows again."""
    memory = FakeMemory(100)
    processor = limiter(sink, memory, limit_mib=1000, spike_limit_mib=200, check_interval_s=2.0)

    async def scenario() -> None:
        await processor.start(host)
        await processor.consume_metrics(metrics(1))
        memory.rss = 850 * MIB
        processor.check()
        with pytest.raises(RetryableExportError) as info:
            await processor.consume_metrics(metrics(3))
        assert info.value.retry_after_s == 2.0
        assert "850 MiB" in str(info.value) and "800 MiB" in str(info.value)
        with pytest.raises(RetryableExportError):
            await processor.consume_logs(ExportLogsServiceRequest())
        memory.rss = 700 * MIB
        processor.check()
        await processor.consume_metrics(metrics(1))
        await processor.shutdown()

    asyncio.run(scenario())
    assert len(sink.metrics) == 2 and sink.logs == []
    assert refused(host, "metric_points") == 3
    assert memory.collections == 0  # never above the hard limit


def test_above_the_hard_limit_collects_garbage_and_measures_again(sink: Any, host: Any) -> None:
    """Above the hard limit the garbage collector runs, and memory it freed counts at once."""
    memory = FakeMemory(1100, freed_by_gc_mib=500)
    processor = limiter(sink, memory, limit_mib=1000)

    async def scenario() -> None:
        await processor.start(host)
        await processor.consume_metrics(metrics(1))
        await processor.shutdown()

    asyncio.run(scenario())
    assert memory.collections == 1 and processor.rss_bytes == 600 * MIB
    assert len(sink.metrics) == 1


def test_percentage_limits_are_shares_of_available_memory(sink: Any, host: Any) -> None:
    """limit_percentage and spike_limit_percentage are taken of the memory available to the process."""
    memory = FakeMemory(100, available_mib=4000)
    processor = limiter(sink, memory, limit_percentage=50, spike_limit_percentage=10)

    async def scenario() -> None:
        await processor.start(host)
        await processor.shutdown()

    asyncio.run(scenario())
    assert (processor.hard_limit_bytes, processor.soft_limit_bytes) == (2000 * MIB, 1600 * MIB)


def test_defaults_limit_to_80_percent_with_a_20_percent_spike(sink: Any, host: Any) -> None:
    """With neither limit set the hard limit is 80% of available memory and the spike 20% of that."""
    memory = FakeMemory(100, available_mib=1000)
    processor = MemoryLimiterProcessor(
        MemoryLimiterProcessorConfig(),
        id=ID,
        next_consumer=sink,
        read_rss=memory.read_rss,
        read_available=memory.read_available,
    )

    async def scenario() -> None:
        await processor.start(host)
        await processor.shutdown()

    asyncio.run(scenario())
    assert (processor.hard_limit_bytes, processor.soft_limit_bytes) == (800 * MIB, 640 * MIB)


def test_the_background_check_follows_memory(sink: Any, host: Any) -> None:
    """Every check_interval_s a task measures again, so refusing starts and stops on its own."""
    memory = FakeMemory(100)
    processor = limiter(sink, memory, limit_mib=1000, check_interval_s=0.01)

    async def until(refusing: bool) -> None:
        while processor.refusing is not refusing:
            await asyncio.sleep(0.005)

    async def scenario() -> None:
        await processor.start(host)
        memory.rss = 900 * MIB
        await asyncio.wait_for(until(True), 2)
        memory.rss = 100 * MIB
        await asyncio.wait_for(until(False), 2)
        await processor.shutdown()
        await processor.shutdown()

    asyncio.run(scenario())


def test_start_fails_when_memory_cannot_be_measured(sink: Any, host: Any) -> None:
    """Without a readable RSS the limiter refuses to start rather than run without a limit."""

    def unreadable() -> int:
        raise FileNotFoundError("/proc/self/statm")

    processor = MemoryLimiterProcessor(
        MemoryLimiterProcessorConfig(limit_mib=100), id=ID, next_consumer=sink, read_rss=unreadable
    )
    with pytest.raises(OSError, match="memory_limiter: cannot measure this process's memory"):
        asyncio.run(processor.start(host))


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux's /proc")
def test_real_readers_report_plausible_numbers() -> None:
    """On Linux, RSS comes from /proc/self/statm and is below the memory available."""
    rss = read_rss_bytes()
    assert 1 * MIB < rss < read_available_memory_bytes()
