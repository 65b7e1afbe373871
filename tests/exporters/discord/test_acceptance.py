"""Acceptance (issue 7): 20 concurrent runs at 100 steps/s for 60 s against a 5 requests / 2 s bucket."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fake_discord import FakeDiscord

import trainwire
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import CollectorProcess, wait_for

RUNS = 20
STEPS_PER_S = 100
SECONDS = 60
STEPS = STEPS_PER_S * SECONDS


def _train(run: Any, index: int, errors: list[BaseException]) -> None:
    try:
        start = time.monotonic()
        for step in range(STEPS):
            loss = math.nan if index == 0 and step == 1000 else 1.0 / (step + 1)
            run.log({"loss": loss, "acc": step / STEPS}, step=step)
            if step == STEPS // 2:
                run.alert(f"halfway {index}", "half of the steps are done", level="info")
            ahead = start + (step + 1) / STEPS_PER_S - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)  # pacing the simulated training, not a wait for a result
        run.finish()
    except BaseException as exc:  # surfaced by the test
        errors.append(exc)


def _count(fake: FakeDiscord, prefix: str) -> int:
    return sum(
        1 for r in fake.ok() for e in r.payload.get("embeds", []) if e["title"].startswith(prefix)
    )


def test_twenty_runs_within_discords_limits(
    tmp_path: Path, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """No request breaks a limit (429s only, each honoured), every start, end and alert is delivered, progress is coalesced, and the store keeps every point."""
    url = fake.add_webhook()
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
    rules = [{"type": "nan", "metric": "loss"}]
    config = config_for(update_interval_s=5, rules=rules)
    with CollectorProcess(tmp_path / "c", config=config) as collector:
        runs = [
            trainwire.init(
                name=f"run-{i}",
                experiment="load",
                endpoint=collector.endpoint,
                capture_pip=False,
                capture_console=False,
                system_metrics=False,
            )
            for i in range(RUNS)
        ]
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_train, args=(run, i, errors)) for i, run in enumerate(runs)
        ]
        for thread in threads:
            thread.start()
        threads[0].join(SECONDS / 2)
        fake.arm_global_429(1.0)  # Discord's global limit, once, in the middle of it all
        for thread in threads:
            thread.join()
        assert errors == []
        assert wait_for(lambda: _count(fake, "✅") == RUNS, 90), _count(fake, "✅")
        with StoreReader(collector.db_path) as store:
            for run in runs:
                assert len(store.points(run.id, "loss")) == STEPS
                assert store.run(run.id).status == "completed"
    assert fake.limit_breaks == []
    assert sorted(set(fake.statuses())) == [200, 429]
    assert _count(fake, "▶️") == RUNS
    assert _count(fake, "ℹ️ halfway") == RUNS
    assert _count(fake, "⚠️ loss is not finite") == 1
    progress = _count(fake, "📈")
    # At most one progress embed per run per update interval; far fewer than the points.
    assert 0 < progress <= RUNS * (SECONDS // 5 + 2)
    assert len(fake.ok()) <= (SECONDS + 30) * 5 / 2
