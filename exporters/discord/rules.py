"""Alert rules: threshold, NaN/inf, no improvement for N steps, GPU temperature.

A rule fires once when its condition starts to hold and re-arms when it stops
holding, so a loss that stays above a threshold is one alert, not one per step.
Each alert's uid is derived from the run, the rule and the step it fired at, so a
replay after a restart posts it once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trainwire.exporters.discord.config import AlertRuleConfig
from trainwire.exporters.discord.runs import MetricPoint, RunInfo

__all__ = ["Alert", "RuleEngine"]


@dataclass(frozen=True)
class Alert:
    """An alert to post."""

    run_id: str
    title: str
    text: str
    level: str
    uid: str


class RuleEngine:
    """Evaluates the configured rules against each run's points and host figures."""

    def __init__(self, rules: list[AlertRuleConfig]) -> None:
        self.rules = list(rules)
        self._firing: set[tuple[str, int]] = set()
        self._best: dict[tuple[str, int], tuple[float, int]] = {}

    def check_point(self, run: RunInfo, point: MetricPoint) -> list[Alert]:
        """Alerts that ``point`` raises."""
        alerts = []
        for index, rule in enumerate(self.rules):
            if rule.metric != point.metric or rule.type == "gpu_temperature":
                continue
            holds, why = self._holds(index, rule, run, point)
            alert = self._edge(index, rule, run.run_id, holds, why, point.step)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def check_gpus(self, run: RunInfo, temperatures: list[float | None]) -> list[Alert]:
        """Alerts from the GPU temperatures of the run's host."""
        alerts = []
        for index, rule in enumerate(self.rules):
            if rule.type != "gpu_temperature":
                continue
            hot = [
                (i, t) for i, t in enumerate(temperatures) if t is not None and t >= rule.celsius
            ]
            why = ", ".join(f"GPU {i} at {t:.0f} °C" for i, t in hot)
            alert = self._edge(index, rule, run.run_id, bool(hot), why, run.step)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _holds(
        self, index: int, rule: AlertRuleConfig, run: RunInfo, point: MetricPoint
    ) -> tuple[bool, str]:
        value, at = point.value, _at(point.step)
        if rule.type == "nan":
            return (not math.isfinite(value), f"{point.metric} = {value}{at}")
        if rule.type == "threshold":
            if not math.isfinite(value):
                return False, ""
            over = rule.above is not None and value > rule.above
            under = rule.below is not None and value < rule.below
            return over or under, f"{point.metric} = {value:.6g}{at}"
        # no_improvement: count steps since the best value (by the rule's or run's goal)
        if not math.isfinite(value) or point.step is None:
            return False, ""
        goal = rule.goal or run.goals.get(point.metric, "min")
        key = (run.run_id, index)
        best = self._best.get(key)
        if best is None or (value < best[0] if goal == "min" else value > best[0]):
            self._best[key] = (value, point.step)
            return False, ""
        waited = point.step - best[1]
        text = (
            f"{point.metric} has not improved for {waited} steps: best {best[0]:.6g} at step"
            f" {best[1]}, now {value:.6g}{at} (goal: {goal})"
        )
        return waited >= rule.steps, text

    def _edge(
        self,
        index: int,
        rule: AlertRuleConfig,
        run_id: str,
        holds: bool,
        why: str,
        step: int | None,
    ) -> Alert | None:
        key = (run_id, index)
        if not holds:
            self._firing.discard(key)
            return None
        if key in self._firing:
            return None
        self._firing.add(key)
        uid = f"discord-rule:{run_id}:{index}:{step if step is not None else why}"
        return Alert(run_id, rule.title(), why, rule.level, uid)

    def _key(self, index: int) -> str:
        rule = self.rules[index]
        return f"{index}:{rule.type}:{rule.metric}"  # a changed config does not inherit state

    def export(self, run_id: str) -> dict[str, Any]:
        """The run's rule state (which rules fire, the best values seen), for storage."""
        return {
            "firing": [self._key(i) for r, i in self._firing if r == run_id],
            "best": {self._key(i): list(v) for (r, i), v in self._best.items() if r == run_id},
        }

    def restore(self, run_id: str, state: dict[str, Any]) -> None:
        """Continue from :meth:`export`'s state (after a collector restart)."""
        keys = {self._key(i): i for i in range(len(self.rules))}
        for key in state.get("firing") or []:
            if key in keys:
                self._firing.add((run_id, keys[key]))
        for key, (value, step) in (state.get("best") or {}).items():
            if key in keys:
                self._best[(run_id, keys[key])] = (float(value), int(step))

    def forget(self, run_id: str) -> None:
        """Drop the state of an ended run."""
        self._firing = {k for k in self._firing if k[0] != run_id}
        self._best = {k: v for k, v in self._best.items() if k[0] != run_id}


def _at(step: int | None) -> str:
    return "" if step is None else f" at step {step}"
