"""The liveness connector with a fake clock, a real storage extension and a sink."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.connectors.liveness import LivenessConfig, LivenessConnector, factory
from trainwire.errors import ConfigError

CONFIG = LivenessConfig(storage="storage", check_interval_s=3600.0, stall_timeout_s=60.0)
"""Timeout 45 s (the default); checks only when a test asks."""


def _connector(clock: Any, sink: Any, config: LivenessConfig = CONFIG) -> LivenessConnector:
    return LivenessConnector(
        config, id=ComponentID("liveness"), next_consumers={Signal.LOGS: sink}, clock=clock
    )


def _run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


def _names(sink: Any) -> list[tuple[str, Any]]:
    return [(e["event_name"], e["body"].get("status")) for e in sink.events()]


def test_silent_rank_is_declared_crashed_once_with_its_resource(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """A rank silent for heartbeat_timeout_s gets one ml.run.end crashed, with its Resource and a deterministic uid."""
    resource = wire.resource()

    async def body() -> None:
        connector = _connector(clock, sink)
        await connector.start(host)
        await connector.consume_metrics(wire.metrics(resource, 1))
        seen_ns = int(clock() * 1e9)
        clock.advance(44.9)
        await connector.check()
        assert sink.events() == []
        clock.advance(0.1)
        await connector.check()
        clock.advance(100)
        await connector.check()
        await connector.shutdown()

        [crash] = sink.events()
        assert crash["event_name"] == crash["name"] == semconv.EVENT_RUN_END
        assert crash["body"]["status"] == semconv.STATUS_CRASHED
        assert "no data from rank 0 for 45 s" in crash["body"]["reason"]
        assert crash["uid"] == f"liveness:run1/0:{seen_ns}"
        assert crash["time"] == seen_ns
        assert crash["resource"] == resource
        assert connector.ranks == {}

    _run(body)


def test_real_end_forgets_the_rank_and_late_data_does_not_bring_it_back(
    clock: Any, sink: Any, host: Any, wire: Any, storage: Any
) -> None:
    """After a real ml.run.end the rank is forgotten, and data still in flight does not track it again."""
    resource = wire.resource()

    async def body() -> None:
        connector = _connector(clock, sink)
        await connector.start(host)
        await connector.consume_metrics(wire.metrics(resource, 1))
        await connector.consume_logs(
            wire.event(resource, semconv.EVENT_RUN_END, {"status": "completed"})
        )
        await connector.consume_metrics(wire.metrics(resource, 2))  # from another pipeline, late
        clock.advance(1000)
        await connector.check()
        await connector.shutdown()
        assert sink.events() == []
        assert storage.client("liveness").items() == {}

    _run(body)


def test_resumed_run_is_watched_again_after_its_end(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """An ml.run.start after an end (a resumed run) makes the rank watched again."""
    resource = wire.resource()

    async def body() -> None:
        connector = _connector(clock, sink)
        await connector.start(host)
        await connector.consume_logs(
            wire.event(resource, semconv.EVENT_RUN_END, {"status": "failed"})
        )
        clock.advance(5)
        await connector.consume_logs(
            wire.event(resource, semconv.EVENT_RUN_START, {"resumed": True})
        )
        clock.advance(45)
        await connector.check()
        await connector.shutdown()
        assert _names(sink) == [(semconv.EVENT_RUN_END, semconv.STATUS_CRASHED)]

    _run(body)


def test_only_the_silent_rank_of_a_run_is_declared_crashed(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """Ranks are watched separately: rank 1 going silent does not end rank 0, which keeps sending."""
    rank0 = wire.resource(rank=0, world_size=2)
    rank1 = wire.resource(rank=1, world_size=2)

    async def body() -> None:
        connector = _connector(clock, sink)
        await connector.start(host)
        await connector.consume_metrics(wire.metrics(rank1, 1))
        for step in range(10):
            await connector.consume_metrics(wire.metrics(rank0, step + 1, step))
            clock.advance(5)
            await connector.check()
        await connector.shutdown()
        [crash] = sink.events()
        assert crash["resource"] == rank1
        assert list(connector.ranks) == [("run1", 0)]

    _run(body)


def test_data_without_a_run_is_not_watched(clock: Any, sink: Any, host: Any, wire: Any) -> None:
    """Plain OpenTelemetry data (no ml.run.id in its resource) never produces a crash."""

    async def body() -> None:
        connector = _connector(clock, sink)
        await connector.start(host)
        await connector.consume_metrics(wire.metrics(Resource(), 1))
        clock.advance(1000)
        await connector.check()
        await connector.shutdown()
        assert sink.events() == [] and connector.ranks == {}

    _run(body)


def test_restart_keeps_last_seen_times_and_grants_one_timeout_of_grace(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """After a restart a silent rank is crashed one timeout after the new start, under its original last-seen uid."""
    resource = wire.resource()

    async def body() -> None:
        first = _connector(clock, sink)
        await first.start(host)
        await first.consume_metrics(wire.metrics(resource, 1))
        seen_ns = int(clock() * 1e9)
        clock.advance(10)
        await first.shutdown()
        clock.advance(20)  # down for 20 s
        second = _connector(clock, sink)
        await second.start(host)
        assert list(second.ranks) == [("run1", 0)]
        clock.advance(44)  # 74 s after last seen, but within the grace
        await second.check()
        assert sink.events() == []
        clock.advance(1)
        await second.check()
        await second.shutdown()
        [crash] = sink.events()
        assert crash["uid"] == f"liveness:run1/0:{seen_ns}"
        assert "for 75 s" in crash["body"]["reason"]

    _run(body)


def test_collector_killed_while_emitting_a_crash_emits_it_again_with_the_same_uid(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """Killed while the crash is on its way, the next collector emits it again under the same uid."""
    resource = wire.resource()

    async def body() -> None:
        first = _connector(clock, sink)
        await first.start(host)
        await first.consume_metrics(wire.metrics(resource, 1))
        clock.advance(1)
        await first.check()  # stores the new rank
        clock.advance(3)
        await first.consume_metrics(wire.metrics(resource, 2))  # in memory only (throttled)
        seen_ns = int(clock() * 1e9)
        clock.advance(45)
        sink.die = True
        with pytest.raises(asyncio.CancelledError):
            await first.check()
        sink.die = False
        second = _connector(clock, sink)
        await second.start(host)
        clock.advance(45)
        await second.check()
        await second.shutdown()
        assert [e["uid"] for e in sink.events()] == [f"liveness:run1/0:{seen_ns}"]

    _run(body)


def test_refused_crash_is_emitted_at_the_next_check(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """A crash the next consumer refuses (its queue is full) is emitted again at the next check."""

    async def body() -> None:
        connector = _connector(clock, sink)
        await connector.start(host)
        await connector.consume_metrics(wire.metrics(wire.resource(), 1))
        clock.advance(45)
        sink.refuse = True
        await connector.check()
        sink.refuse = False
        clock.advance(5)
        await connector.check()
        await connector.shutdown()
        assert _names(sink) == [(semconv.EVENT_RUN_END, semconv.STATUS_CRASHED)]

    _run(body)


def test_stalled_heartbeats_raise_one_alert_and_rearm_when_the_run_logs_again(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """Heartbeats whose last_log_time stays put raise one ml.alert; progress re-arms it for the next stall."""
    resource = wire.resource()

    async def beat(connector: LivenessConnector, last_log_time: int, times: int) -> None:
        for _ in range(times):
            await connector.consume_logs(wire.heartbeat(resource, last_log_time))
            await connector.check()
            clock.advance(10)

    async def body() -> None:
        connector = _connector(clock, sink)
        await connector.start(host)
        await beat(connector, 111, 6)  # 0..50 s: stuck, not yet 60 s
        assert sink.events() == []
        await beat(connector, 111, 10)  # 60..150 s: one alert
        await beat(connector, 222, 3)  # progress
        await beat(connector, 222, 8)  # stuck again
        await connector.shutdown()
        alerts = sink.events()
        assert [a["event_name"] for a in alerts] == [semconv.EVENT_ALERT] * 2
        assert alerts[0]["body"]["title"] == "run stalled"
        assert alerts[0]["body"]["level"] == "warn"
        assert "logged nothing since" in alerts[0]["body"]["text"]
        assert [a["uid"] for a in alerts] == [
            "liveness:stalled:run1/0:111",
            "liveness:stalled:run1/0:222",
        ]
        assert alerts[0]["resource"] == resource

    _run(body)


def test_stopped_heartbeats_are_a_crash_not_a_stall(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """A rank whose heartbeats stop is declared crashed, without a stall alert first."""
    config = LivenessConfig(storage="storage", check_interval_s=3600.0, stall_timeout_s=30.0)

    async def body() -> None:
        connector = _connector(clock, sink, config)
        await connector.start(host)
        await connector.consume_logs(wire.heartbeat(wire.resource(), 111))
        for _ in range(10):
            clock.advance(5)
            await connector.check()
        await connector.shutdown()
        assert _names(sink) == [(semconv.EVENT_RUN_END, semconv.STATUS_CRASHED)]

    _run(body)


def test_stall_alert_is_not_repeated_after_a_restart(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """A stall already alerted stays alerted across a restart while last_log_time has not moved."""
    resource = wire.resource()

    async def body() -> None:
        first = _connector(clock, sink)
        await first.start(host)
        for _ in range(8):
            await first.consume_logs(wire.heartbeat(resource, 111))
            clock.advance(10)
            await first.check()
        await first.shutdown()
        second = _connector(clock, sink)
        await second.start(host)
        for _ in range(10):
            await second.consume_logs(wire.heartbeat(resource, 111))
            clock.advance(10)
            await second.check()
        await second.shutdown()
        assert [e["event_name"] for e in sink.events()] == [semconv.EVENT_ALERT]

    _run(body)


def test_without_storage_it_works_in_memory(
    clock: Any, sink: Any, bare_host: Any, wire: Any
) -> None:
    """With no storage configured the connector still declares silent ranks crashed."""
    config = LivenessConfig(check_interval_s=3600.0)

    async def body() -> None:
        connector = _connector(clock, sink, config)
        await connector.start(bare_host)
        await connector.consume_metrics(wire.metrics(wire.resource(), 1))
        clock.advance(45)
        await connector.check()
        await connector.shutdown()
        assert len(sink.events()) == 1

    _run(body)


def test_storage_that_is_not_an_extension_is_named(bare_host: Any) -> None:
    """A storage id that names no started storage extension fails start with the config path."""
    connector = factory.create(
        LivenessConfig(storage="storage/missing"), id=ComponentID("liveness"), next_consumers={}
    )
    with pytest.raises(ConfigError, match="connectors::liveness::storage: 'storage/missing'"):
        asyncio.run(connector.start(bare_host))


def test_background_check_runs_every_check_interval(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """Started, the connector checks on its own every check_interval_s."""
    config = LivenessConfig(storage="storage", check_interval_s=0.01)

    async def body() -> None:
        connector = _connector(clock, sink, config)
        await connector.start(host)
        await connector.consume_metrics(wire.metrics(wire.resource(), 1))
        clock.advance(45)
        for _ in range(200):
            if sink.events():
                break
            await asyncio.sleep(0.01)
        await connector.shutdown()
        await connector.shutdown()
        assert len(sink.events()) == 1

    _run(body)


def test_tracked_ranks_and_crashes_are_counted_in_telemetry(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """The collector's telemetry reports watched ranks and ranks declared crashed."""
    host = host

    async def body() -> None:
        connector = _connector(clock, sink)
        await connector.start(host)
        await connector.consume_metrics(wire.metrics(wire.resource(rank=0), 1))
        await connector.consume_metrics(wire.metrics(wire.resource(rank=1), 1))
        values = {s.name: s.value for s in host.telemetry.collect()}
        assert values["otelcol_connector_liveness_ranks"] == 2
        clock.advance(45)
        await connector.check()
        await connector.shutdown()
        values = {s.name: s.value for s in host.telemetry.collect()}
        assert values["otelcol_connector_liveness_crashed_ranks"] == 2
        assert values["otelcol_connector_liveness_ranks"] == 0

    _run(body)


def test_observer_lists_live_runs_for_the_receivers_but_never_declares(
    clock: Any, sink: Any, host: Any, wire: Any
) -> None:
    """declare: false (an agent) keeps the run directory the nvml/hostmetrics receivers read,
    forgets a silent rank, and emits no crash nor stall: the gateway's liveness does that."""
    from dataclasses import replace

    from trainwire.collector.rundirectory import run_directory

    silent, stuck = wire.resource(), wire.resource(run_id="run2")

    def listed() -> set[str]:
        return {r.run_id for r in run_directory().processes()}

    async def body() -> None:
        connector = _connector(clock, sink, replace(CONFIG, declare=False))
        await connector.start(host)
        await connector.consume_metrics(wire.metrics(silent, 1))
        assert "run1" in listed()
        for _ in range(12):  # run2 beats without progress for 120 s: a stall
            await connector.consume_logs(wire.heartbeat(stuck, 111))
            clock.advance(10)
            await connector.check()
        assert "run1" not in listed()  # silent past the timeout: forgotten
        assert "run2" in listed()
        await connector.shutdown()
        assert sink.events() == []

    _run(body)
