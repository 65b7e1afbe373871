"""Run events in the run store: stored once, applied once, in record-time order."""

from __future__ import annotations

import sqlite3
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from trainwire import semconv
from trainwire.exporters.sqlite import StoreReader
from trainwire.exporters.sqlite.writer import StoreWriter

RUN = "a1b2c3d4e5f6"


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _start_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "baseline",
        "experiment": "mnist",
        "config": {"lr": 0.001, "optimizer": {"name": "adam", "betas": {"b1": 0.9}}, "epochs": 10},
        "tags": ["resnet", "baseline"],
        "argv": ["train.py", "--lr", "0.001"],
        "python": "3.12.1",
        "resumed": False,
    }
    body.update(overrides)
    return body


def test_run_start_sets_name_params_labels_and_details(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """ml.run.start names the run, flattens config into dotted params and turns tags into labels."""
    t = wire.T0
    writer.write_logs(wire.events(wire.resource(), (t, semconv.EVENT_RUN_START, _start_body())))

    run = reader.run(RUN)
    assert run.name == "baseline"
    assert run.status == semconv.STATUS_RUNNING
    assert run.start_time == t
    assert run.end_time is None
    assert reader.params(RUN) == {
        "epochs": 10,
        "lr": 0.001,
        "optimizer.betas.b1": 0.9,
        "optimizer.name": "adam",
    }
    assert reader.labels(RUN) == ["baseline", "resnet"]
    assert reader.tags(RUN) == {}
    assert run.details == {
        "argv": ["train.py", "--lr", "0.001"],
        "experiment": "mnist",
        "python": "3.12.1",
        "resumed": False,
    }


def test_run_start_group_is_stored(writer: StoreWriter, reader: StoreReader, wire: Any) -> None:
    """The group named in ml.run.start becomes the run's group."""
    writer.write_logs(
        wire.events(
            wire.resource(), (wire.T0, semconv.EVENT_RUN_START, _start_body(group="sweep-3"))
        )
    )

    assert reader.run(RUN).group == "sweep-3"


def test_run_params_event_adds_and_overrides_params(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """ml.run.params adds flattened params and a later one overrides an earlier value."""
    t = wire.T0
    resource = wire.resource()
    writer.write_logs(
        wire.events(
            resource,
            (t, semconv.EVENT_RUN_START, _start_body(config={"lr": 0.1})),
            (t + 1, semconv.EVENT_RUN_PARAMS, {"lr": 0.05, "data": {"path": "/d", "shards": 8}}),
        )
    )

    assert reader.params(RUN) == {"data.path": "/d", "data.shards": 8, "lr": 0.05}


def test_run_tags_event_sets_adds_and_removes(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """ml.run.tags sets key/value tags, adds labels and removes labels."""
    t = wire.T0
    resource = wire.resource()
    writer.write_logs(
        wire.events(
            resource,
            (t, semconv.EVENT_RUN_START, _start_body(tags=["a", "b"])),
            (
                t + 1,
                semconv.EVENT_RUN_TAGS,
                {"set": {"team": "vision", "gpu": "a100"}, "add": ["c"]},
            ),
            (t + 2, semconv.EVENT_RUN_TAGS, {"set": {"gpu": "h100"}, "remove": ["a"]}),
        )
    )

    assert reader.tags(RUN) == {"gpu": "h100", "team": "vision"}
    assert reader.labels(RUN) == ["b", "c"]


def test_run_rename_event_renames(writer: StoreWriter, reader: StoreReader, wire: Any) -> None:
    """ml.run.rename changes the run's name."""
    t = wire.T0
    writer.write_logs(
        wire.events(
            wire.resource(),
            (t, semconv.EVENT_RUN_START, _start_body()),
            (t + 1, semconv.EVENT_RUN_RENAME, {"name": "baseline-v2"}),
        )
    )

    assert reader.run(RUN).name == "baseline-v2"


def test_run_summary_event_stores_values(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """ml.run.summary stores its (flattened) final values."""
    writer.write_logs(
        wire.events(
            wire.resource(),
            (wire.T0, semconv.EVENT_RUN_SUMMARY, {"best_acc": 0.97, "eval": {"loss": 0.08}}),
        )
    )

    assert reader.summary(RUN) == {"best_acc": 0.97, "eval.loss": 0.08}


def test_events_applied_out_of_order_end_as_latest_record_time(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """Tags, labels, params and renames arriving out of record-time order keep the latest value."""
    t = wire.T0
    resource = wire.resource()
    # Newest first: each later request carries older records.
    writer.write_logs(
        wire.events(
            resource,
            (t + 30, semconv.EVENT_RUN_RENAME, {"name": "final-name"}),
            (t + 30, semconv.EVENT_RUN_TAGS, {"set": {"stage": "eval"}, "remove": ["draft"]}),
            (t + 30, semconv.EVENT_RUN_PARAMS, {"lr": 0.003}),
        )
    )
    writer.write_logs(
        wire.events(
            resource,
            (t + 20, semconv.EVENT_RUN_RENAME, {"name": "middle-name"}),
            (t + 20, semconv.EVENT_RUN_TAGS, {"set": {"stage": "train"}, "add": ["draft"]}),
            (t + 20, semconv.EVENT_RUN_PARAMS, {"lr": 0.002}),
        )
    )
    writer.write_logs(
        wire.events(
            resource,
            (
                t,
                semconv.EVENT_RUN_START,
                _start_body(name="first-name", config={"lr": 0.001, "bs": 64}, tags=["draft"]),
            ),
        )
    )

    run = reader.run(RUN)
    assert run.name == "final-name"
    assert run.start_time == t
    assert reader.tags(RUN) == {"stage": "eval"}
    assert reader.labels(RUN) == []
    assert reader.params(RUN) == {"bs": 64, "lr": 0.003}


def _single_record_request(wire: Any, *, event_name: str, attribute: str | None) -> Any:
    request = wire.events(wire.resource(), (wire.T0, semconv.EVENT_RUN_RENAME, {"name": "renamed"}))
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    record.event_name = event_name
    kept = [kv for kv in record.attributes if kv.key != semconv.EVENT_NAME_ATTRIBUTE]
    del record.attributes[:]
    record.attributes.extend(kept)
    if attribute is not None:
        kv = record.attributes.add(key=semconv.EVENT_NAME_ATTRIBUTE)
        kv.value.string_value = attribute
    return request


def test_event_name_read_from_event_name_field_alone(
    conn: sqlite3.Connection, writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """An event named only by LogRecord.event_name is recognised and applied."""
    request = _single_record_request(wire, event_name=semconv.EVENT_RUN_RENAME, attribute=None)
    writer.write_logs(request)

    assert reader.run(RUN).name == "renamed"
    assert conn.execute("SELECT name FROM events").fetchall() == [(semconv.EVENT_RUN_RENAME,)]


def test_event_name_read_from_attribute_alone(
    conn: sqlite3.Connection, writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """An event named only by the event.name attribute (older senders) is recognised and applied."""
    request = _single_record_request(wire, event_name="", attribute=semconv.EVENT_RUN_RENAME)
    writer.write_logs(request)

    assert reader.run(RUN).name == "renamed"
    assert conn.execute("SELECT name FROM events").fetchall() == [(semconv.EVENT_RUN_RENAME,)]


def test_resent_logs_request_stores_and_applies_each_event_once(
    conn: sqlite3.Connection, writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A re-sent logs request adds no event rows and changes no run state."""
    t = wire.T0
    resource = wire.resource()
    first = wire.events(
        resource,
        (t, semconv.EVENT_RUN_START, _start_body()),
        (t + 1, semconv.EVENT_RUN_SUMMARY, {"acc": 0.9}),
        (t + 2, semconv.EVENT_ALERT, {"title": "slow", "text": "slow epoch", "level": "warn"}),
        (t + 3, semconv.EVENT_RUN_END, {"status": "completed", "exit_code": 0}),
    )
    resent = ExportLogsServiceRequest.FromString(first.SerializeToString())

    assert writer.write_logs(first) == 4
    before = reader.run(RUN)
    assert writer.write_logs(resent) == 0
    # A fresh writer (a restarted collector) must not apply them again either.
    assert StoreWriter(conn).write_logs(resent) == 0

    assert _count(conn, "events") == 4
    assert conn.execute(
        "SELECT name, count(*) FROM events GROUP BY name ORDER BY name"
    ).fetchall() == [
        (semconv.EVENT_ALERT, 1),
        (semconv.EVENT_RUN_END, 1),
        (semconv.EVENT_RUN_START, 1),
        (semconv.EVENT_RUN_SUMMARY, 1),
    ]
    assert reader.run(RUN) == before
    assert (before.status, before.end_time, before.exit_code) == ("completed", t + 3, 0)
    assert reader.summary(RUN) == {"acc": 0.9}
    assert conn.execute("SELECT rank, status, end_time FROM run_ranks").fetchall() == [
        (0, "completed", t + 3)
    ]


def test_resent_end_of_one_rank_does_not_end_a_two_rank_run(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """Rank 0's ml.run.end sent twice counts once: the two-rank run keeps running."""
    t = wire.T0
    rank0 = wire.resource(world_size=2, rank=0)
    rank1 = wire.resource(world_size=2, rank=1)
    writer.write_metrics(wire.log(rank1, (t, 1, {"loss": 0.5})))
    end0 = wire.events(
        rank0, (t + 5, semconv.EVENT_RUN_END, {"status": "completed", "exit_code": 0})
    )

    writer.write_logs(end0)
    writer.write_logs(end0)

    run = reader.run(RUN)
    assert (run.status, run.end_time) == (semconv.STATUS_RUNNING, None)


def test_record_without_uid_is_stored_once(
    conn: sqlite3.Connection, writer: StoreWriter, wire: Any
) -> None:
    """A re-sent log record without log.record.uid is de-duplicated by its content."""
    request = wire.events(wire.resource(), (wire.T0, semconv.EVENT_CONSOLE, "epoch 1 done"))
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    kept = [kv for kv in record.attributes if kv.key != semconv.LOG_RECORD_UID]
    del record.attributes[:]
    record.attributes.extend(kept)

    assert writer.write_logs(request) == 1
    assert writer.write_logs(request) == 0
    rows = conn.execute("SELECT uid, name, body FROM events").fetchall()
    assert len(rows) == 1
    assert rows[0][0].startswith("content:")
    assert rows[0][1:] == (semconv.EVENT_CONSOLE, '"epoch 1 done"')


def test_run_end_completed(writer: StoreWriter, reader: StoreReader, wire: Any) -> None:
    """ml.run.end with status completed ends the run with its time and exit code."""
    t = wire.T0
    writer.write_logs(
        wire.events(
            wire.resource(),
            (t, semconv.EVENT_RUN_START, _start_body()),
            (
                t + 100,
                semconv.EVENT_RUN_END,
                {"status": "completed", "exit_code": 0, "duration": 1e-7},
            ),
        )
    )

    run = reader.run(RUN)
    assert run.status == semconv.STATUS_COMPLETED
    assert (run.start_time, run.end_time, run.exit_code) == (t, t + 100, 0)
    assert run.duration_s == 100 / 1e9
    assert (run.exception_type, run.exception_message, run.exception_stacktrace) == (
        None,
        None,
        None,
    )


def test_run_end_failed_stores_exception(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """ml.run.end with status failed stores exception type, message and stacktrace on the run."""
    t = wire.T0
    attributes = {
        semconv.EXCEPTION_TYPE: "RuntimeError",
        semconv.EXCEPTION_MESSAGE: "CUDA out of memory",
        semconv.EXCEPTION_STACKTRACE: 'Traceback (most recent call last):\n  File "train.py"',
    }
    writer.write_logs(
        wire.events(
            wire.resource(),
            (t, semconv.EVENT_RUN_START, _start_body()),
            (t + 9, semconv.EVENT_RUN_END, {"status": "failed", "exit_code": 1}, attributes),
        )
    )

    run = reader.run(RUN)
    assert (run.status, run.end_time, run.exit_code) == (semconv.STATUS_FAILED, t + 9, 1)
    assert run.exception_type == "RuntimeError"
    assert run.exception_message == "CUDA out of memory"
    assert run.exception_stacktrace == 'Traceback (most recent call last):\n  File "train.py"'


def test_two_rank_run_ends_when_both_ranks_end_failed_if_any_failed(
    conn: sqlite3.Connection, writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A world_size=2 run runs on after rank 0 ends and ends failed once failing rank 1 ends."""
    t = wire.T0
    rank0 = wire.resource(world_size=2, rank=0)
    rank1 = wire.resource(world_size=2, rank=1)
    writer.write_logs(wire.events(rank0, (t, semconv.EVENT_RUN_START, _start_body())))
    writer.write_metrics(wire.log(rank1, (t + 1, 1, {"loss": 0.4})))

    writer.write_logs(
        wire.events(rank0, (t + 50, semconv.EVENT_RUN_END, {"status": "completed", "exit_code": 0}))
    )
    run = reader.run(RUN)
    assert (run.status, run.end_time, run.exit_code) == (semconv.STATUS_RUNNING, None, None)

    writer.write_logs(
        wire.events(
            rank1,
            (
                t + 40,
                semconv.EVENT_RUN_END,
                {"status": "failed", "exit_code": 3},
                {semconv.EXCEPTION_TYPE: "ValueError", semconv.EXCEPTION_MESSAGE: "bad batch"},
            ),
        )
    )
    run = reader.run(RUN)
    assert (run.status, run.end_time, run.exit_code) == (semconv.STATUS_FAILED, t + 50, 3)
    assert (run.exception_type, run.exception_message) == ("ValueError", "bad batch")
    assert conn.execute(
        "SELECT rank, status, exit_code FROM run_ranks ORDER BY rank"
    ).fetchall() == [
        (0, "completed", 0),
        (1, "failed", 3),
    ]


def test_two_rank_run_ends_completed_when_both_complete(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A world_size=2 run whose ranks both complete ends completed at the later end time."""
    t = wire.T0
    end = {"status": "completed", "exit_code": 0}
    writer.write_logs(
        wire.events(wire.resource(world_size=2, rank=0), (t + 7, semconv.EVENT_RUN_END, end))
    )
    assert reader.run(RUN).status == semconv.STATUS_RUNNING
    writer.write_logs(
        wire.events(wire.resource(world_size=2, rank=1), (t + 9, semconv.EVENT_RUN_END, end))
    )

    run = reader.run(RUN)
    assert (run.status, run.end_time, run.exit_code) == (semconv.STATUS_COMPLETED, t + 9, 0)


def test_event_with_only_observed_time_dates_the_run(
    writer: StoreWriter, reader: StoreReader, wire: Any
) -> None:
    """A log record with only observed_time_unix_nano dates the run by that time, not by zero."""
    t = wire.T0
    request = wire.events(wire.resource(), (t, semconv.EVENT_CONSOLE, "loading data"))
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    record.time_unix_nano = 0
    record.observed_time_unix_nano = t + 3
    writer.write_logs(request)

    run = reader.run(RUN)
    assert run.start_time == t + 3
