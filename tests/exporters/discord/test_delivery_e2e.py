"""Delivery through a real collector: retries, 404, 413, replays, the token and @everyone."""

from __future__ import annotations

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
from trainwire.exporters.sqlite import StoreReader
from trainwire.records import EventRecord, encode_events
from trainwire.testing import CollectorProcess, free_port, wait_for


def _titles(fake: FakeDiscord) -> list[str]:
    return [e.get("title", "") for r in fake.ok() for e in r.payload.get("embeds", [])]


def test_5xx_is_retried_until_delivered(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """Discord answering 503 three times delays the start card; it is then posted once."""
    url = fake.add_webhook()
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
    fake.fail_next(503, 3)
    with CollectorProcess(tmp_path / "c", config=config_for(events=["start"])) as collector:
        trainwire.init(name="flaky", endpoint=collector.endpoint).finish()
        assert wait_for(lambda: fake.ok(), 30)
    assert fake.statuses() == [503, 503, 503, 200]
    assert _titles(fake) == ["▶️ flaky started"]


def test_deleted_webhook_stops_the_exporter_once_and_costs_the_store_nothing(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """After a 404 Unknown Webhook the exporter says so once and sends nothing more; the store gets every point."""
    url = fake.add_webhook()
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
    fake.delete_webhook(url)
    with CollectorProcess(tmp_path / "c", config=config_for(update_interval_s=1)) as collector:
        with trainwire.init(name="orphan", endpoint=collector.endpoint) as run:
            for step in range(100):
                run.log({"loss": float(step)}, step=step)
            run.alert("still here", "x")
        assert wait_for(lambda: any("webhook is gone" in line for line in collector.output), 20)
        with StoreReader(collector.db_path) as store:
            assert len(store.points(run.id, "loss")) == 100
        output = "".join(collector.output)
    assert output.count("webhook is gone") == 1
    assert "Create a new webhook" in output
    assert fake.statuses() == [404]


def test_413_posts_the_summary_without_its_chart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """When Discord refuses the chart as too large (413), the end summary is posted without attachments."""
    with FakeDiscord(max_upload_bytes=200) as fake:
        url = fake.add_webhook()
        monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
        with CollectorProcess(tmp_path / "c", config=config_for(events=["end"])) as collector:
            with trainwire.init(name="big", endpoint=collector.endpoint) as run:
                for step in range(50):
                    run.log({"loss": 1.0 / (step + 1)}, step=step)
            assert wait_for(lambda: fake.ok(), 20)
        assert fake.statuses() == [413, 200]
        (posted,) = fake.ok()
        assert posted.files == [] and "image" not in posted.payload["embeds"][0]
        assert posted.payload["embeds"][0]["title"] == "✅ big completed"


def _alert_request(uid: str) -> Any:
    resource = Resource(attributes=to_attributes({semconv.ML_RUN_ID: "replayed-run"}))
    body = {"title": "disk almost full", "text": "93%", "level": "warn"}
    record = EventRecord(time.time_ns(), semconv.EVENT_ALERT, body, uid)
    return encode_events(resource, InstrumentationScope(name="test"), [record])


def test_an_event_replayed_after_a_restart_is_posted_once(
    tmp_path: Path,
    fake: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
    config_for: Any,
    restart: Any,
) -> None:
    """The same alert (same log.record.uid) sent again after a collector restart is not posted twice."""
    url = fake.add_webhook()
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
    port = free_port()
    collector = CollectorProcess(tmp_path / "c", config=config_for(port))
    with collector:
        request = _alert_request("alert-uid-1")
        with grpc.insecure_channel(collector.endpoint) as channel:
            LogsServiceStub(channel).Export(request, timeout=10)
        assert wait_for(lambda: fake.ok(), 20)
        collector = restart(collector)
        with grpc.insecure_channel(collector.endpoint) as channel:
            LogsServiceStub(channel).Export(request, timeout=10)
            LogsServiceStub(channel).Export(_alert_request("alert-uid-2"), timeout=10)
        assert wait_for(lambda: len(fake.ok()) == 2, 20)
    assert _titles(fake) == ["⚠️ disk almost full", "⚠️ disk almost full"]
    assert len(fake.requests) == 2


def test_the_token_never_reaches_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """With Discord unreachable and debug logging on, the collector's output never shows the webhook token."""
    token = "sUpErSeCrEtToKeN_123-abc"
    url = f"http://127.0.0.1:{free_port()}/api/webhooks/4242/{token}"
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
    config = config_for(log_level="debug")
    with CollectorProcess(tmp_path / "c", config=config) as collector:
        trainwire.init(name="offline", endpoint=collector.endpoint).finish()
        assert wait_for(lambda: any("Discord unreachable" in line for line in collector.output), 20)
        output = "".join(collector.output)
    assert "webhooks/4242/***" in output
    assert token not in output


def test_user_strings_cannot_ping_everyone(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """User strings (run name, tags, params, metric names, alert text, exception) that say @everyone, @here or <@id>/<@&id> ping nobody; the alert pings only the configured role."""
    url = fake.add_webhook()
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
    config = config_for(mention_roles=["555"], update_interval_s=1)
    with CollectorProcess(tmp_path / "c", config=config) as collector:
        with pytest.raises(RuntimeError):
            with trainwire.init(
                name="@everyone",
                tags=["<@&555>"],
                config={"<@12>": "@here"},
                endpoint=collector.endpoint,
            ) as run:
                run.log({"@everyone": 1.0}, step=1)
                run.alert("@here look", "@everyone <@&999> broke it", level="warn")
                assert wait_for(lambda: any("📈" in t for t in _titles(fake)), 20)
                raise RuntimeError("<@!34> @everyone")
        assert wait_for(lambda: any("failed" in t for t in _titles(fake)), 20), _titles(fake)
    for request in fake.ok():
        assert request.message is not None and request.message["mention_everyone"] is False
        assert "@everyone" not in request.text and "@here" not in request.text
        assert "<@" not in request.text.replace(str(request.payload.get("content")), "")
        assert request.payload["allowed_mentions"]["parse"] == []
        assert request.message["mentions"] == []
        assert request.message["mention_roles"] in ([], ["555"])
    alert = next(r for r in fake.ok() if r.payload.get("content"))
    assert alert.payload["content"] == "<@&555>"
    assert alert.payload["allowed_mentions"] == {"parse": [], "users": [], "roles": ["555"]}
