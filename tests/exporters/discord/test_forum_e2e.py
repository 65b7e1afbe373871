"""Forum mode: one thread per run, kept across a collector restart and a resumed run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_discord import FakeDiscord

import trainwire
from trainwire.testing import CollectorProcess, free_port, wait_for


def _titles(fake: FakeDiscord, thread_id: str) -> list[str]:
    return [e.get("title", "") for m in fake.messages.get(thread_id, []) for e in m["embeds"]]


def test_thread_per_run_survives_restart_and_resume(
    tmp_path: Path,
    fake: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
    config_for: Any,
    restart: Any,
) -> None:
    """The run start opens a thread named after the run; after a collector restart and again when the run is resumed, everything is posted in that same thread."""
    url = fake.add_webhook("forum")
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
    port = free_port()
    collector = CollectorProcess(tmp_path / "c", config=config_for(port, mode="forum"))
    with collector:
        run = trainwire.init(name="lora-r16", experiment="llm", endpoint=collector.endpoint)
        run.log({"loss": 2.0}, step=1)
        assert wait_for(lambda: len(fake.threads) == 1, 20)
        (thread_id,) = fake.threads
        assert fake.threads[thread_id] == "lora-r16"
        assert run.flush(timeout_s=10)
        collector = restart(collector)
        run.alert("checkpoint saved", "epoch 1", level="info")
        run.finish()
        assert wait_for(lambda: any("completed" in t for t in _titles(fake, thread_id)), 30)
        resumed = trainwire.init(
            name="lora-r16",
            experiment="llm",
            id=run.id,
            resume="allow",
            endpoint=collector.endpoint,
        )
        resumed.log({"loss": 1.0}, step=2)
        resumed.finish()
        assert wait_for(lambda: len(_titles(fake, thread_id)) >= 5, 30), _titles(fake, thread_id)
    titles = _titles(fake, thread_id)
    assert list(fake.threads) == [thread_id], "a second thread was opened"
    assert titles[0] == "▶️ lora-r16 started"
    assert "ℹ️ checkpoint saved" in titles
    assert "▶️ lora-r16 resumed" in titles
    assert sum("completed" in t for t in titles) == 2
    assert [r for r in fake.ok() if r.query.get("thread_id") is None] == fake.ok()[:1]
    assert fake.limit_breaks == []


def test_a_deleted_thread_is_opened_again(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """When the run's thread was deleted in Discord (404 Unknown Channel), the next post opens a new thread instead of failing."""
    url = fake.add_webhook("forum")
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
    with CollectorProcess(tmp_path / "c", config=config_for(mode="forum")) as collector:
        run = trainwire.init(name="gone", endpoint=collector.endpoint)
        assert wait_for(lambda: len(fake.threads) == 1, 20)
        fake.threads.clear()  # deleted by a moderator
        run.finish()
        assert wait_for(lambda: len(fake.threads) == 1, 20)
    (thread_id,) = fake.threads
    assert [t for t in _titles(fake, thread_id)] == ["✅ gone completed"]
