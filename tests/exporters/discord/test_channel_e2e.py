"""SDK → real collector → discord exporter → fake Discord, in channel mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_discord import FakeDiscord, Recorded

import trainwire
from trainwire.testing import CollectorProcess, wait_for


def _titles(fake: FakeDiscord) -> list[str]:
    return [e.get("title", "") for r in fake.ok() for e in r.payload.get("embeds", [])]


def _with_title(fake: FakeDiscord, prefix: str) -> list[Recorded]:
    return [
        r
        for r in fake.ok()
        if any(e.get("title", "").startswith(prefix) for e in r.payload.get("embeds", []))
    ]


def test_a_run_is_told_start_progress_alert_end(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """A run's start card (params as fields), coalesced progress, its alert with the configured mention, and an end summary with a PNG chart reach the channel."""
    url = fake.add_webhook()
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
    config = config_for(update_interval_s=1, mention_users=["123456789"])
    with CollectorProcess(tmp_path / "c", config=config) as collector:
        run = trainwire.init(
            name="resnet",
            experiment="vision",
            config={"lr": 0.001, "optim": {"name": "adam"}},
            tags=["baseline"],
            endpoint=collector.endpoint,
        )
        run.define_metric("loss", goal="min")
        for step in range(200):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 200}, step=step)
        assert wait_for(lambda: _with_title(fake, "📈"), 20), _titles(fake)
        run.alert("loss spike", "loss went up", level="error")
        run.finish()
        assert wait_for(lambda: _with_title(fake, "✅"), 20), _titles(fake)
        output = "".join(collector.output)
    start = _with_title(fake, "▶️")[0].payload["embeds"][0]
    assert start["title"] == "▶️ resnet started"
    assert {"name": "lr", "value": "`0.001`", "inline": True} in start["fields"]
    assert {"name": "optim.name", "value": "`adam`", "inline": True} in start["fields"]
    assert "`baseline`" in start["description"] and "vision" in start["description"]
    progress = _with_title(fake, "📈")
    assert len(progress) < 20, "progress was not coalesced"
    alert = _with_title(fake, "🚨")[0].payload
    assert alert["content"] == "<@123456789>"
    assert alert["allowed_mentions"] == {"parse": [], "users": ["123456789"], "roles": []}
    end = _with_title(fake, "✅")[0]
    summary = end.payload["embeds"][0]
    assert "**Status** completed" in summary["description"]
    assert {"name": "loss", "value": "0.005", "inline": True} in summary["fields"]
    assert {"name": "best loss (min)", "value": "0.005 @ 199", "inline": True} in summary["fields"]
    assert summary["image"] == {"url": "attachment://metrics.png"}
    assert [(f[1], f[3]) for f in end.files] == [("metrics.png", "image/png")]
    assert fake.limit_breaks == []
    assert url.rsplit("/", 1)[1] not in output
