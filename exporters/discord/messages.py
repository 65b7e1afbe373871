"""The messages a run's story is told in: start card, progress, artifact, alert, end summary.

Each builder returns a :class:`Post` (embeds, content, files); limits are applied when
the post is packed into messages (:func:`~trainwire.exporters.discord.limits.pack_embeds`).
Every user string is passed through :func:`~trainwire.exporters.discord.limits.neutralize`,
so a run named ``@everyone`` pings nobody.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trainwire.exporters.discord.chart import COLORS, render_chart
from trainwire.exporters.discord.client import Attachment
from trainwire.exporters.discord.limits import MAX_DESCRIPTION, neutralize, truncate
from trainwire.exporters.discord.runs import RunInfo

__all__ = [
    "Post",
    "alert_post",
    "artifact_post",
    "chart_series",
    "end_post",
    "format_bytes",
    "format_value",
    "progress_embed",
    "start_post",
]

_BLUE, _GREEN, _YELLOW, _RED, _GREY = 0x3B82F6, 0x22C55E, 0xEAB308, 0xEF4444, 0x6B7280
_LEVEL_COLOR = {"info": _BLUE, "warn": _YELLOW, "error": _RED}
_STATUS_COLOR = {"completed": _GREEN, "failed": _RED, "crashed": _RED, "killed": _GREY}
_STATUS_ICON = {"completed": "✅", "failed": "❌", "crashed": "💥", "killed": "⏹️"}
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


@dataclass
class Post:
    """One thing to post: embeds and files; ``mention`` pings the configured users/roles."""

    embeds: list[dict[str, Any]]
    files: list[Attachment] = field(default_factory=list)
    mention: bool = False
    without_files: Post | None = None
    """What to post instead when Discord refuses the files (413)."""


def format_value(value: Any) -> str:
    """A metric or parameter value, short."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def format_bytes(size: int) -> str:
    """``1.5 MiB`` and the like."""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} B"


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def start_post(run: RunInfo, body: Mapping[str, Any], *, seen_before: bool = False) -> Post:
    """The run start card: experiment, run, host, git commit, tags, params as fields.

    ``seen_before``: the run was announced earlier (a resumed run), so it says "resumed".
    """
    lines = [f"**Run** `{run.run_id}`"]
    if run.experiment:
        lines.append(f"**Experiment** {run.experiment}")
    if run.host:
        lines.append(f"**Host** {run.host}")
    if run.group:
        lines.append(f"**Group** {run.group}")
    git = run.git
    if git.get("commit"):
        dirty = " (dirty)" if git.get("dirty") else ""
        branch = f" on {git['branch']}" if git.get("branch") else ""
        lines.append(f"**Commit** `{str(git['commit'])[:12]}`{branch}{dirty}")
    if run.tags:
        lines.append("**Tags** " + ", ".join(f"`{t}`" for t in run.tags))
    resumed = bool(body.get("resumed")) or seen_before
    if resumed:
        resume_from = body.get("resume_from")
        lines.append("**Resumed**" + (f" from step {resume_from}" if resume_from else ""))
    fields = [
        {"name": key, "value": f"`{format_value(value)}`", "inline": True}
        for key, value in _flatten(run.params).items()
    ]
    verb = "resumed" if resumed else "started"
    embed = {
        "title": f"▶️ {run.name or run.run_id} {verb}",
        "description": "\n".join(neutralize(line) for line in lines),
        "color": _BLUE,
        "fields": fields,
    }
    return Post([embed])


def progress_embed(run: RunInfo, host_line: str | None) -> dict[str, Any]:
    """The progress of one run: latest value and step of each metric, best where declared."""
    fields = []
    for metric, (value, step) in sorted(run.latest.items()):
        text = format_value(value) + (f" @ {step}" if step is not None else "")
        best = run.best.get(metric)
        if metric in run.goals and best is not None:
            text += f" (best {format_value(best[0])})"
        fields.append({"name": metric, "value": text, "inline": True})
    at = f" · step {run.step}" if run.step is not None else ""
    embed: dict[str, Any] = {"title": f"📈 {run.title}{at}", "color": _GREY, "fields": fields}
    if host_line:
        embed["footer"] = {"text": host_line}
    return embed


def alert_post(run: RunInfo | None, title: str, text: str, level: str) -> Post:
    """An alert, pinging the configured users and roles."""
    icon = {"info": "ℹ️", "warn": "⚠️", "error": "🚨"}.get(level, "⚠️")
    embed = {
        "title": f"{icon} {title}",
        "description": text or " ",
        "color": _LEVEL_COLOR.get(level, _YELLOW),
    }
    if run is not None:
        embed["footer"] = {"text": f"{run.title} · {run.run_id}"}
    return Post([embed], mention=True)


def artifact_post(
    run: RunInfo, body: Mapping[str, Any], data: bytes | None, *, max_bytes: int
) -> Post:
    """An artifact: attached when its bytes are at hand and within the limit, else a line."""
    name = str(body.get("name") or "artifact")
    size = int(body.get("size") or 0)
    kind = str(body.get("kind") or "file")
    mime = str(body.get("mime_type") or "application/octet-stream")
    fetch = f"`trainwire download {run.run_id} {name}`"
    line = f"**{name}** ({kind}, {format_bytes(size)}) — fetch with {fetch}"
    plain = {"title": f"📎 {run.title}", "description": line, "color": _GREY}
    if data is None or size > max_bytes or len(data) > max_bytes:
        return Post([plain])
    filename = _safe_filename(name)
    embed = {**plain, "description": f"**{name}** ({kind}, {format_bytes(size)})"}
    if mime in _IMAGE_TYPES:
        embed["image"] = {"url": f"attachment://{filename}"}
    return Post([embed], files=[Attachment(filename, data, mime)], without_files=Post([plain]))


def end_post(
    run: RunInfo,
    body: Mapping[str, Any],
    exception: Mapping[str, str],
    *,
    chart_metrics: list[str],
    mention: bool,
) -> Post:
    """The end summary: status, duration, final and best metrics, a chart; the exception."""
    status = str(body.get("status") or "completed")
    lines = [f"**Status** {status}"]
    duration = body.get("duration_s")
    if isinstance(duration, (int, float)):
        lines.append(f"**Duration** {_duration(float(duration))}")
    if body.get("exit_code") is not None:
        lines.append(f"**Exit code** {body['exit_code']}")
    if body.get("reason"):
        lines.append(str(body["reason"]))
    if run.step is not None:
        lines.append(f"**Last step** {run.step}")
    fields = [
        {"name": metric, "value": format_value(value), "inline": True}
        for metric, (value, _) in sorted(run.latest.items())
    ]
    fields += [
        {
            "name": f"best {metric} ({run.goals[metric]})",
            "value": _best(run, metric),
            "inline": True,
        }
        for metric in sorted(run.goals)
        if metric in run.best
    ]
    fields += [
        {"name": f"summary: {key}", "value": format_value(value), "inline": True}
        for key, value in _flatten(run.summary).items()
    ]
    icon = _STATUS_ICON.get(status, "🏁")
    summary: dict[str, Any] = {
        "title": f"{icon} {run.name or run.run_id} {status}",
        "description": neutralize("\n".join(lines)),
        "color": _STATUS_COLOR.get(status, _GREY),
        "fields": fields,
        "footer": {"text": f"{run.title} · {run.run_id}"},
    }
    embeds = [summary]
    if exception:
        embeds.append(_exception_embed(exception))
    plain = Post([dict(e) for e in embeds], mention=mention)
    chosen = chart_series(run, chart_metrics)
    if not chosen:
        return plain
    png = render_chart([run.history[m].points for m in chosen])
    legend = [f"{COLORS[i % len(COLORS)][0]}: {m} ({_range(run, m)})" for i, m in enumerate(chosen)]
    summary["description"] += "\n**Chart** " + "; ".join(legend)
    summary["image"] = {"url": "attachment://metrics.png"}
    return Post(
        embeds,
        files=[Attachment("metrics.png", png, "image/png")],
        mention=mention,
        without_files=plain,
    )


def _exception_embed(exception: Mapping[str, str]) -> dict[str, Any]:
    kind = exception.get("exception.type", "Exception")
    message = exception.get("exception.message", "")
    trace = exception.get("exception.stacktrace", "")
    head = truncate(f"**{kind}**: {message}", 600)
    room = MAX_DESCRIPTION - len(head) - 20
    if len(trace) > room:  # the end of a traceback says where it failed: keep that
        trace = "…" + trace[-(room - 1) :]
    description = head + (f"\n```\n{trace.replace('```', 'ˋˋˋ')}\n```" if trace else "")
    return {"title": "Exception", "description": description, "color": _RED}


def chart_series(run: RunInfo, requested: list[str]) -> list[str]:
    """The metrics the end chart draws: those requested, else declared goals, else the first 4."""
    names = requested or [m for m in run.goals if m in run.history] or list(run.history)
    return [m for m in names if m in run.history and run.history[m].points][:4]


def _best(run: RunInfo, metric: str) -> str:
    value, step = run.best[metric]
    return format_value(value) + (f" @ {step}" if step is not None else "")


def _range(run: RunInfo, metric: str) -> str:
    ys = [y for _, y in run.history[metric].points]
    return f"{format_value(min(ys))} … {format_value(max(ys))}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _safe_filename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in base).strip("._")
    return cleaned[:100] or "artifact"
