"""The runs the exporter knows: loaded from their stored summaries, saved back, pruned."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable

from trainwire.exporters.discord.messages import chart_series
from trainwire.exporters.discord.rules import Alert, RuleEngine
from trainwire.exporters.discord.runs import RunInfo
from trainwire.exporters.discord.snapshot import dump_run, load_run
from trainwire.exporters.discord.state import DiscordState

__all__ = ["PRUNE_EVERY_S", "SAVE_EVERY_S", "RunBook"]

SAVE_EVERY_S = 10.0
"""How often changed run summaries are written to storage."""
PRUNE_EVERY_S = 600.0
"""How often the records of runs ended ``state_retention_s`` ago are pruned."""


class RunBook:
    """Each run's :class:`RunInfo`, with its summary kept in storage across restarts.

    ``pending`` is the exporter's list of alerts not yet posted: a run's are saved with
    its summary (its rule is restored as firing, so it would not raise them again).
    """

    def __init__(
        self,
        state: DiscordState,
        rules: RuleEngine,
        pending: list[Alert],
        *,
        chart_metrics: list[str],
        retention_s: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.rules = rules
        self.pending = pending
        self.runs: dict[str, RunInfo] = {}
        self._chart_metrics = list(chart_metrics)
        self._retention_s = retention_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._changed: set[str] = set()
        self._saved_at = clock()
        self._pruned_at = clock() - PRUNE_EVERY_S  # prune once right after a start

    async def load(self, run_id: str) -> RunInfo:
        """The run's record: on first sight, from its stored summary when it has one."""
        info = self.runs.get(run_id)
        if info is None:
            info = RunInfo(run_id, first_seen_s=self._clock())
            stored = await self.state.summary(run_id)
            if stored is not None:
                rules = load_run(info, stored)
                self.rules.restore(run_id, rules)
                for alert in rules.get("pending") or []:
                    with contextlib.suppress(TypeError):
                        self.pending.append(Alert(**alert))
            info = self.runs.setdefault(run_id, info)
        self._changed.add(run_id)
        return info

    def changed(self, run_id: str) -> None:
        """The run's summary is to be saved again."""
        self._changed.add(run_id)

    async def save(self, *, force: bool = False) -> None:
        """Write the changed runs' summaries (every ``SAVE_EVERY_S``, or now with ``force``)."""
        if not self._changed or (not force and self._clock() - self._saved_at < SAVE_EVERY_S):
            return
        self._saved_at = self._clock()
        changed, self._changed = self._changed, set()
        for run_id in changed:
            run = self.runs.get(run_id)
            if run is None:
                continue
            rules = self.rules.export(run_id)
            rules["pending"] = [dataclasses.asdict(a) for a in self.pending if a.run_id == run_id]
            text = dump_run(run, chart_series(run, self._chart_metrics), rules)
            await self.state.save_summary(run_id, text)

    async def ended(self, run: RunInfo) -> None:
        """Note the end, for pruning what the run posted ``state_retention_s`` later."""
        self._changed.add(run.run_id)
        await self.state.mark_ended(run.run_id, self._wall_clock())

    async def prune(self) -> None:
        """Forget runs ended ``state_retention_s`` ago, in storage and here (every 10 min)."""
        if self._clock() - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = self._clock()
        for run_id in await self.state.prune(self._wall_clock(), self._retention_s):
            run = self.runs.get(run_id)
            if run is not None and run.ended:
                del self.runs[run_id]
                self._changed.discard(run_id)
