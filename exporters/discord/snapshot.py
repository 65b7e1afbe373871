"""A run's compact summary, kept in storage so the end summary survives a collector restart.

It holds what the end summary and the alert rules need — name, experiment, host,
goals, latest and best value of each metric, the last step, the run's summary, the
chart's history and the rules' state — bounded in size: at most ``MAX_METRICS``
metrics, the chart's metrics only for history, and the run summary only while small.
The start card's params are not kept: that card went out before.
"""

from __future__ import annotations

import json
import math
from typing import Any

from trainwire.exporters.discord.runs import History, RunInfo

__all__ = ["MAX_METRICS", "dump_run", "load_run"]

MAX_METRICS = 200
"""Metrics whose latest/best values are kept (the end summary shows them all)."""
_MAX_SUMMARY_CHARS = 8000
_VERSION = 1


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)  # JSON has no NaN/inf


def _float(value: Any) -> float:
    return float(value)  # float("nan"), float("inf") read back the repr


def _pairs(values: dict[str, tuple[float, int | None]]) -> dict[str, list[Any]]:
    return {m: [_number(v), s] for m, (v, s) in list(values.items())[:MAX_METRICS]}


def dump_run(run: RunInfo, chart: list[str], rules: dict[str, Any]) -> str:
    """The run's summary as JSON; ``chart``: the metrics whose history is kept."""
    summary = dict(run.summary)
    if len(json.dumps(summary, default=str)) > _MAX_SUMMARY_CHARS:
        summary = {}  # the SDK sends the summary again at the end; don't bloat storage
    data = {
        "v": _VERSION,
        "name": run.name,
        "experiment": run.experiment,
        "host": run.host,
        "group": run.group,
        "tags": run.tags[:50],
        "goals": run.goals,
        "summary": summary,
        "latest": _pairs(run.latest),
        "best": _pairs(run.best),
        "step": run.step,
        "ended": run.ended,
        "status": run.status,
        "history": {
            m: {"points": run.history[m].points, "stride": run.history[m].stride}
            for m in chart
            if m in run.history
        },
        "rules": rules,
    }
    return json.dumps(data, default=str, separators=(",", ":"))


def load_run(run: RunInfo, text: str) -> dict[str, Any]:
    """Fill ``run`` from a stored summary; return the rules' state (empty if unreadable)."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != _VERSION:
            return {}
        run.name = str(data.get("name") or run.name)
        run.experiment = str(data.get("experiment") or run.experiment)
        run.host = str(data.get("host") or run.host)
        run.group = str(data.get("group") or run.group)
        run.tags = [str(t) for t in data.get("tags") or []]
        run.goals = {str(k): "max" if v == "max" else "min" for k, v in data["goals"].items()}
        run.summary = dict(data.get("summary") or {})
        run.latest = {m: (_float(v), s) for m, (v, s) in data["latest"].items()}
        run.best = {m: (_float(v), s) for m, (v, s) in data["best"].items()}
        run.step = data.get("step")
        run.ended = bool(data.get("ended"))
        run.status = str(data.get("status") or "")
        for metric, kept in data["history"].items():
            history = History()
            history.restore([(float(x), float(y)) for x, y in kept["points"]], kept["stride"])
            run.history[metric] = history
        rules = data.get("rules")
        return rules if isinstance(rules, dict) else {}
    except (KeyError, TypeError, ValueError):
        return {}  # an unreadable summary costs the end summary its past, nothing more
