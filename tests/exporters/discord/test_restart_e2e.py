"""What survives a collector restart or a failure mid-post, and ranks other than 0."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from fake_discord import FakeDiscord
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

import trainwire
from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.records import EventRecord, encode_events
from trainwire.testing import CollectorProcess, free_port, wait_for


def _titles(fake: FakeDiscord) -> list[str]:
    return [e.get("title", "") for r in fake.ok() for e in r.payload.get("embeds", [])]


def test_a_post_split_over_messages_is_resumed_not_reposted(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """A start card of 300 params goes out in several messages; when the second one fails (503) the retry posts the rest, not the first part again."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook())
    fake.fail_next(503, after=1)
    config = {f"layer{i}": {"width": i} for i in range(300)}
    with CollectorProcess(tmp_path / "c", config=config_for(events=["start"])) as collector:
        run = trainwire.init(name="wide", config=config, endpoint=collector.endpoint)
        run.finish()
        assert wait_for(lambda: len(fake.statuses()) >= 3 and fake.statuses()[-1] == 200, 30)
    assert fake.statuses()[:3] == [200, 503, 200]
    titles = _titles(fake)
    assert titles.count("▶️ wide started") == 1
    fields = [f["name"] for r in fake.ok() for e in r.payload["embeds"] for f in e["fields"]]
    assert len(fields) == len(set(fields)) == 300


def test_the_end_summary_covers_the_run_across_a_collector_restart(
    tmp_path: Path,
    fake: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
    config_for: Any,
    restart: Any,
) -> None:
    """Latest and best values, and the chart, seen before a collector restart are in the end summary posted after it."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook())
    collector = CollectorProcess(tmp_path / "c", config=config_for(free_port(), events=["end"]))
    with collector:
        run = trainwire.init(name="long", endpoint=collector.endpoint)
        run.define_metric("loss", goal="min")
        for step in range(100):
            run.log({"loss": 1.0 + abs(step - 60) / 10, "warmup_lr": step / 100}, step=step)
        assert run.flush(timeout_s=10)
        collector = restart(collector)
        for step in range(100, 150):
            run.log({"loss": 5.0 + step / 100}, step=step)
        run.finish()
        assert wait_for(lambda: fake.ok(), 30)
    (posted,) = fake.ok()
    summary = posted.payload["embeds"][0]
    fields = {f["name"]: f["value"] for f in summary["fields"]}
    assert fields["best loss (min)"] == "1 @ 60"
    assert fields["warmup_lr"] == "0.99"  # logged only before the restart
    assert fields["loss"] == "6.49"
    assert "**Last step** 149" in summary["description"]
    assert "blue: loss (1 … 7)" in summary["description"]


def test_an_alert_raised_while_discord_is_down_survives_a_collector_restart(
    tmp_path: Path,
    fake: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
    config_for: Any,
    restart: Any,
) -> None:
    """A NaN alert that could not be posted (503s) before the collector stopped is posted once after it starts again."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook())
    fake.fail_next(503, count=10_000)
    rules = [{"type": "nan", "metric": "loss"}]
    config = config_for(free_port(), events=["alerts"], rules=rules)
    collector = CollectorProcess(tmp_path / "c", config=config)
    with collector:
        run = trainwire.init(name="diverged", endpoint=collector.endpoint)
        run.log({"loss": float("nan")}, step=1)  # the replay cannot re-arm the rule
        assert run.flush(timeout_s=10)
        assert wait_for(lambda: 503 in fake.statuses(), 20)
        collector = restart(collector, between=fake.recover)
        assert wait_for(lambda: fake.ok(), 20)
        run.finish()
        assert run.flush(timeout_s=10)
    assert _titles(fake) == ["⚠️ loss is not finite"]


def _keys(collector: CollectorProcess) -> list[str]:
    with sqlite3.connect(collector.data_dir / "state.db") as db:
        rows = db.execute("SELECT key FROM kv WHERE owner = 'discord' ORDER BY key").fetchall()
    return [key for (key,) in rows]


def test_an_ended_runs_records_are_pruned_after_the_retention(
    tmp_path: Path,
    fake: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
    config_for: Any,
    restart: Any,
) -> None:
    """With state_retention_s 0, a collector started after a run ended keeps only the run's forum thread and start mark in its storage."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook("forum"))
    config = config_for(free_port(), mode="forum", state_retention_s=0)
    collector = CollectorProcess(tmp_path / "c", config=config)
    with collector:
        with trainwire.init(name="done", endpoint=collector.endpoint) as run:
            run.alert("hello", "x")
        assert wait_for(lambda: any("completed" in t for t in _titles(fake)), 20)
        keys = _keys(collector)
        assert any(k.startswith(f"posted/{run.id}/") for k in keys), keys
        collector = restart(collector)
        assert wait_for(lambda: f"ended/{run.id}" not in _keys(collector), 20)
        assert _keys(collector) == [f"started/{run.id}", f"thread/{run.id}"]


def _end_of_rank(run_id: str, rank: Any, uid: str) -> Any:
    resource = Resource(
        attributes=to_attributes({semconv.ML_RUN_ID: run_id, semconv.ML_RUN_RANK: rank})
    )
    body = {"status": "crashed", "reason": f"no data from rank {rank} for 61 s"}
    record = EventRecord(time.time_ns(), semconv.EVENT_RUN_END, body, uid)
    return encode_events(resource, InstrumentationScope(name="liveness"), [record])


def test_a_crashed_rank_other_than_0_is_an_alert_and_the_run_goes_on(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """Rank 1 declared crashed posts one alert naming the rank, with the mentions; the run is not ended, and rank 0's end (rank sent as a string) is its end summary."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook())
    config = config_for(mention_users=["42"], events=["alerts", "end"])
    with CollectorProcess(tmp_path / "c", config=config) as collector:
        with grpc.insecure_channel(collector.endpoint) as channel:
            stub = LogsServiceStub(channel)
            stub.Export(_end_of_rank("ddp", 1, "liveness:ddp/1:5"), timeout=10)
            stub.Export(_end_of_rank("ddp", 1, "liveness:ddp/1:5"), timeout=10)  # replayed
            assert wait_for(lambda: len(fake.ok()) == 1, 20)
            stub.Export(_end_of_rank("ddp", "0", "liveness:ddp/0:9"), timeout=10)
            assert wait_for(lambda: len(fake.ok()) == 2, 20)
    alert, end = fake.ok()
    assert alert.payload["embeds"][0]["title"] == "🚨 rank 1 crashed"
    assert "no data from rank 1 for 61 s" in alert.payload["embeds"][0]["description"]
    assert alert.message is not None and alert.message["mentions"] == [{"id": "42"}]
    assert end.payload["embeds"][0]["title"] == "💥 ddp crashed"
    assert end.message is not None and end.message["mentions"] == [{"id": "42"}]
