"""The store's side of liveness: a crash is provisional, later data revives, a real end wins."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.collector.connectors.liveness.events import crash_request
from trainwire.collector.connectors.liveness.state import RankState
from trainwire.exporters.sqlite import StoreReader
from trainwire.exporters.sqlite.writer import StoreWriter

RUN = "a1b2c3d4e5f6"


def _crash(resource: Resource, last_seen_ns: int, rank: int = 0) -> ExportLogsServiceRequest:
    """The ml.run.end the liveness connector emits for a rank last seen at ``last_seen_ns``."""
    state = RankState(RUN, rank, resource.SerializeToString(), last_seen_ns)
    return crash_request(state, now_ns=last_seen_ns + 45 * 10**9, timeout_s=45)


def _statuses(reader: StoreReader, conn: Any) -> tuple[str, list[tuple[int, str]]]:
    ranks = conn.execute(
        "SELECT rank, status FROM run_ranks WHERE run_id = ? ORDER BY rank", (RUN,)
    ).fetchall()
    return reader.run(RUN).status, [tuple(r) for r in ranks]


def test_crash_ends_rank_and_run_at_the_last_seen_time(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """The connector's crashed ml.run.end ends the run crashed at the time it was last seen."""
    t = wire.T0
    resource = wire.resource()
    writer.write_metrics(wire.log(resource, (t, 0, {"loss": 1.0})))

    assert writer.write_logs(_crash(resource, t + 7)) == 1

    run = reader.run(RUN)
    assert (run.status, run.end_time, run.exit_code) == (semconv.STATUS_CRASHED, t + 7, None)


def test_later_metrics_revive_a_crashed_run(
    writer: StoreWriter, reader: StoreReader, wire: Any, conn: Any
) -> None:
    """A new metric point after the crash sets the rank and the run back to running."""
    t = wire.T0
    resource = wire.resource()
    writer.write_metrics(wire.log(resource, (t, 0, {"loss": 1.0})))
    writer.write_logs(_crash(resource, t))

    writer.write_metrics(wire.log(resource, (t + 60, 1, {"loss": 0.5})))

    assert _statuses(reader, conn) == (semconv.STATUS_RUNNING, [(0, semconv.STATUS_RUNNING)])
    assert reader.run(RUN).end_time is None


def test_later_non_end_event_revives_a_crashed_run(
    writer: StoreWriter, reader: StoreReader, wire: Any, conn: Any
) -> None:
    """A heartbeat (any event but ml.run.end) after the crash sets the run back to running."""
    t = wire.T0
    resource = wire.resource()
    writer.write_logs(_crash(resource, t))

    writer.write_logs(
        wire.events(resource, (t + 60, semconv.EVENT_RUN_HEARTBEAT, {"last_log_time": t}))
    )

    assert _statuses(reader, conn) == (semconv.STATUS_RUNNING, [(0, semconv.STATUS_RUNNING)])


def test_replayed_request_does_not_revive_a_crashed_run(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A request stored before the crash and delivered again (at least once) changes nothing."""
    t = wire.T0
    resource = wire.resource()
    points = wire.log(resource, (t, 0, {"loss": 1.0}))
    writer.write_metrics(points)
    writer.write_logs(_crash(resource, t))

    assert writer.write_metrics(points) == 0

    assert reader.run(RUN).status == semconv.STATUS_CRASHED


def test_real_end_after_crash_gives_its_own_status(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A real ml.run.end arriving after the crash overrides it: the run ends completed."""
    t = wire.T0
    resource = wire.resource()
    writer.write_logs(_crash(resource, t))

    writer.write_logs(
        wire.events(
            resource, (t + 90, semconv.EVENT_RUN_END, {"status": "completed", "exit_code": 0})
        )
    )

    run = reader.run(RUN)
    assert (run.status, run.end_time, run.exit_code) == (semconv.STATUS_COMPLETED, t + 90, 0)


def test_crash_after_real_end_is_ignored(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A crash that arrives after the run's own ml.run.end (a race) leaves the real status."""
    t = wire.T0
    resource = wire.resource()
    writer.write_logs(wire.events(resource, (t + 5, semconv.EVENT_RUN_END, {"status": "killed"})))

    writer.write_logs(_crash(resource, t + 5))

    run = reader.run(RUN)
    assert (run.status, run.end_time) == (semconv.STATUS_KILLED, t + 5)


def test_revived_run_can_crash_again(writer: StoreWriter, reader: StoreReader, wire: Any) -> None:
    """After a revival, a second silence (a new last-seen time, a new uid) crashes the run again."""
    t = wire.T0
    resource = wire.resource()
    writer.write_logs(_crash(resource, t))
    writer.write_metrics(wire.log(resource, (t + 60, 1, {"loss": 0.5})))

    assert writer.write_logs(_crash(resource, t + 61)) == 1

    run = reader.run(RUN)
    assert (run.status, run.end_time) == (semconv.STATUS_CRASHED, t + 61)


def test_two_rank_run_follows_its_crashed_rank(
    writer: StoreWriter, reader: StoreReader, wire: Any, conn: Any
) -> None:
    """A two-rank run is crashed while one rank is, runs again when it revives, and ends with it."""
    t = wire.T0
    rank0 = wire.resource(world_size=2, rank=0)
    rank1 = wire.resource(world_size=2, rank=1)
    end = {"status": "completed", "exit_code": 0}
    writer.write_metrics(wire.log(rank1, (t, 0, {"loss": 1.0})))
    writer.write_logs(wire.events(rank0, (t + 5, semconv.EVENT_RUN_END, end)))
    writer.write_logs(_crash(rank1, t + 1, rank=1))
    assert _statuses(reader, conn) == (
        semconv.STATUS_CRASHED,
        [(0, semconv.STATUS_COMPLETED), (1, semconv.STATUS_CRASHED)],
    )

    writer.write_metrics(wire.log(rank1, (t + 60, 1, {"loss": 0.5})))
    assert _statuses(reader, conn) == (
        semconv.STATUS_RUNNING,
        [(0, semconv.STATUS_COMPLETED), (1, semconv.STATUS_RUNNING)],
    )

    writer.write_logs(wire.events(rank1, (t + 70, semconv.EVENT_RUN_END, end)))
    run = reader.run(RUN)
    assert (run.status, run.end_time) == (semconv.STATUS_COMPLETED, t + 70)
