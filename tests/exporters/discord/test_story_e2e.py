"""The rest of a run's story through a real collector: host figures, rules, artifacts, crashes, dry run."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from fake_discord import FakeDiscord, Recorded
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import MetricsServiceStub
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

import trainwire
from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.exporters.discord.chart import render_chart
from trainwire.records import EventRecord, encode_events
from trainwire.testing import CollectorProcess, wait_for


def _embeds(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [e for r in fake.ok() for e in r.payload.get("embeds", [])]


def _titled(fake: FakeDiscord, prefix: str) -> list[Recorded]:
    return [
        r
        for r in fake.ok()
        if any(e.get("title", "").startswith(prefix) for e in r.payload.get("embeds", []))
    ]


def test_progress_shows_the_hosts_figures(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """With the run's system metrics flowing, progress updates end with the host's CPU and RAM line."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook())
    monkeypatch.setenv("TRAINWIRE_SYSTEM_METRICS_INTERVAL", "0.2")
    with CollectorProcess(tmp_path / "c", config=config_for(update_interval_s=1)) as collector:
        with trainwire.init(name="busy", endpoint=collector.endpoint) as run:

            def footer_with_cpu() -> bool:
                run.log({"loss": 1.0})
                footers = [e.get("footer", {}).get("text", "") for e in _embeds(fake)]
                return any(f.startswith("CPU ") and "RAM " in f for f in footers)

            assert wait_for(footer_with_cpu, 30, interval_s=0.2), _embeds(fake)
    progress = [e for e in _embeds(fake) if e["title"].startswith("📈")]
    assert progress[-1]["title"].startswith("📈 default / busy")
    assert socket.gethostname() in _titled(fake, "▶️")[0].payload["embeds"][0]["description"]


def test_rules_raise_alerts_once_each(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """Threshold, NaN, no-improvement and GPU-temperature rules each post one alert while their condition holds."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook())
    rules = [
        {"type": "threshold", "metric": "loss", "above": 5},
        {"type": "nan", "metric": "loss", "level": "error"},
        {"type": "no_improvement", "metric": "val", "steps": 10, "goal": "max"},
        {"type": "gpu_temperature", "celsius": 85},
    ]
    config = config_for(update_interval_s=1, rules=rules, events=["alerts"])
    with CollectorProcess(tmp_path / "c", config=config) as collector:
        with trainwire.init(name="rules", endpoint=collector.endpoint, system_metrics=False) as run:
            for step in range(30):
                loss = {3: 7.0, 4: 8.0, 9: float("nan")}.get(step, 1.0)
                run.log({"loss": loss, "val": 0.9 if step == 2 else 0.5}, step=step)
            assert run.flush(timeout_s=10)
            _send_gpu_temperature(collector.endpoint, socket.gethostname(), 91.0)
            assert wait_for(lambda: len(fake.ok()) >= 4, 20), [e["title"] for e in _embeds(fake)]
    titles = sorted(e["title"] for e in _embeds(fake))
    assert titles == [
        "⚠️ GPU temperature ≥ 85 °C",
        "⚠️ loss > 5",
        "⚠️ val: no improvement for 10 steps",
        "🚨 loss is not finite",
    ]
    gpu = next(e for e in _embeds(fake) if "GPU" in e["title"])
    assert gpu["description"] == "GPU 0 at 91 °C"


def _send_gpu_temperature(endpoint: str, host: str, celsius: float) -> None:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(to_attributes({semconv.HOST_NAME: host}))
    metric = resource_metrics.scope_metrics.add().metrics.add(name=semconv.HW_TEMPERATURE)
    point = metric.gauge.data_points.add(time_unix_nano=time.time_ns(), as_double=celsius)
    point.attributes.extend(to_attributes({semconv.HW_ID: "GPU-0", semconv.HW_TYPE: "gpu"}))
    with grpc.insecure_channel(endpoint) as channel:
        MetricsServiceStub(channel).Export(request, timeout=10)


class _Figure:
    def savefig(self, file: Any, format: str = "png") -> None:  # noqa: A002 - matplotlib's name
        file.write(render_chart([[(0, 0.0), (1, 1.0)]], width=64, panel_height=32))


def test_artifacts_attach_within_the_limit_else_say_how_to_fetch(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """A small figure is attached and shown inline; a file over max_attachment_bytes is a line with its size and the download command."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook())
    big = tmp_path / "model.pt"
    big.write_bytes(b"w" * 50_000)
    config = config_for(events=["artifacts"], max_attachment_bytes=20_000)
    with CollectorProcess(tmp_path / "c", config=config) as collector:
        with trainwire.init(name="arts", endpoint=collector.endpoint) as run:
            run.log_figure(_Figure(), title="loss curve")
            run.log_artifact(big, kind="model")
        assert wait_for(lambda: len(fake.ok()) >= 2, 30)
    figure = next(r for r in fake.ok() if r.files)
    (name, filename, size, content_type) = figure.files[0]
    assert content_type == "image/png" and size < 20_000
    assert figure.payload["embeds"][0]["image"] == {"url": f"attachment://{filename}"}
    model = next(r for r in fake.ok() if not r.files).payload["embeds"][0]["description"]
    assert (
        model
        == f"**model.pt** (model, 48.8 KiB) — fetch with `trainwire download {run.id} model.pt`"
    )


def test_a_crash_declared_by_liveness_pings_with_its_reason(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """A crashed ml.run.end (as the liveness connector emits it) posts the end summary with its reason and the mentions."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook())
    config = config_for(mention_users=["42"], events=["end"])
    with CollectorProcess(tmp_path / "c", config=config) as collector:
        resource = Resource(attributes=to_attributes({semconv.ML_RUN_ID: "r-crash"}))
        body = {"status": "crashed", "reason": "no data from rank 0 for 61 s"}
        record = EventRecord(time.time_ns(), semconv.EVENT_RUN_END, body, "liveness:r-crash/0:1")
        request = encode_events(resource, InstrumentationScope(name="liveness"), [record])
        with grpc.insecure_channel(collector.endpoint) as channel:
            LogsServiceStub(channel).Export(request, timeout=10)
        assert wait_for(lambda: fake.ok(), 20)
    (posted,) = fake.ok()
    assert posted.payload["content"] == "<@42>"
    embed = posted.payload["embeds"][0]
    assert embed["title"] == "💥 r-crash crashed"
    assert "no data from rank 0 for 61 s" in embed["description"]


def test_a_failed_run_posts_its_exception(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """A run that raises is posted as failed, with the exception and the end of its traceback."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook())
    with CollectorProcess(tmp_path / "c", config=config_for(events=["end"])) as collector:
        with pytest.raises(ZeroDivisionError):
            with trainwire.init(name="boom", endpoint=collector.endpoint):
                _ = 1 / 0
        assert wait_for(lambda: fake.ok(), 20)
    embeds = fake.ok()[0].payload["embeds"]
    assert embeds[0]["title"] == "❌ boom failed"
    assert embeds[1]["description"].startswith("**ZeroDivisionError**: division by zero\n```")
    assert "_ = 1 / 0" in embeds[1]["description"]


def test_dry_run_logs_payloads_and_sends_nothing(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """With dry_run the payloads appear in the collector's log and Discord receives nothing."""
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", fake.add_webhook())
    config = config_for(dry_run=True, mode="forum")
    with CollectorProcess(tmp_path / "c", config=config) as collector:
        trainwire.init(name="rehearsal", endpoint=collector.endpoint).finish()
        assert wait_for(lambda: any("rehearsal completed" in line for line in collector.output), 20)
        output = "".join(collector.output)
    assert fake.requests == []
    assert '"thread_name": "rehearsal"' in output
