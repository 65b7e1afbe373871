"""What the exporter keeps in the storage extension: posted events, run summaries, pruning."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from trainwire.collector.component import ComponentID
from trainwire.collector.extensions.storage.config import StorageConfig
from trainwire.collector.extensions.storage.storage import StorageExtension
from trainwire.exporters.discord.config import AlertRuleConfig
from trainwire.exporters.discord.rules import RuleEngine
from trainwire.exporters.discord.runs import MetricPoint, RunInfo
from trainwire.exporters.discord.snapshot import MAX_METRICS, dump_run, load_run
from trainwire.exporters.discord.state import DiscordState


def _storage(tmp_path: Path) -> StorageExtension:
    extension = StorageExtension(StorageConfig(str(tmp_path)), id=ComponentID("storage"))
    asyncio.run(extension.start(None))  # type: ignore[arg-type]
    return extension


def test_an_ended_runs_records_are_pruned_after_the_retention(tmp_path: Path) -> None:
    """Posted-event keys and the summary of a run ended longer ago than the retention are deleted; its thread and a running run's keys stay."""
    extension = _storage(tmp_path)
    client = extension.client("discord")

    async def scenario() -> list[str]:
        state = DiscordState(client)
        for run in ("old", "new", "running"):
            await state.set_thread(run, f"t-{run}")
            await state.mark_posted(run, "start-uid", "m1")
            await state.mark_posted(run, "end-uid#0", "m2")
            await state.save_summary(run, "{}")
        await state.mark_ended("old", 1000.0)
        await state.mark_ended("new", 1900.0)
        pruned = await state.prune(2000.0, retention_s=500.0)
        assert await state.posted("old", "start-uid") is None
        assert await state.posted("new", "start-uid") == "m1"
        return pruned

    assert asyncio.run(scenario()) == ["old"]
    keys = set(client.items())
    assert not any(k.startswith(("posted/old/", "run/old", "ended/old")) for k in keys)
    assert {"thread/old", "posted/new/start-uid", "run/new", "posted/running/end-uid#0"} <= keys
    asyncio.run(extension.shutdown())


def test_a_resumed_run_is_not_pruned(tmp_path: Path) -> None:
    """A run that starts again after its end is no longer counted as ended."""
    extension = _storage(tmp_path)

    async def scenario() -> list[str]:
        state = DiscordState(extension.client("discord"))
        await state.mark_posted("r", "uid", "m")
        await state.mark_ended("r", 0.0)
        await state.mark_started("r")
        return await state.prune(10_000.0, retention_s=1.0)

    assert asyncio.run(scenario()) == []
    asyncio.run(extension.shutdown())


def test_a_run_summary_round_trips_bounded() -> None:
    """Latest, best (NaN included), goals, step, chart history and rule state come back; metrics are capped."""
    rule = AlertRuleConfig(type="no_improvement", metric="loss", steps=10)
    rules = RuleEngine([rule])
    run = RunInfo("r", name="n", experiment="e", host="h")
    run.goals["loss"] = "min"
    for step in range(30):
        value = math.nan if step == 3 else abs(step - 5) / 10
        run.observe("loss", value, step)
        rules.check_point(run, MetricPoint("r", "loss", value, step))
    run.observe("grad_norm", math.inf, 2)
    for i in range(MAX_METRICS + 50):
        run.observe(f"m{i}", float(i), 1)
    text = dump_run(run, ["loss"], rules.export("r"))
    assert len(text) < 64_000

    again = RunInfo("r")
    restored_rules = RuleEngine([rule])
    restored_rules.restore("r", load_run(again, text))
    assert (again.name, again.experiment, again.host, again.step) == ("n", "e", "h", 29)
    assert again.best["loss"] == (0.0, 5) and again.latest["loss"] == (2.4, 29)
    assert again.history["loss"].points == run.history["loss"].points
    assert again.latest["grad_norm"] == (math.inf, 2)
    assert len(again.latest) == MAX_METRICS
    # The rule fired at step 15 (10 steps after the best); it does not fire again.
    assert rules.export("r") == restored_rules.export("r") and rules.export("r")["firing"]
    assert restored_rules.check_point(again, MetricPoint("r", "loss", 3.0, 30)) == []
    assert load_run(RunInfo("x"), "not json") == {}
