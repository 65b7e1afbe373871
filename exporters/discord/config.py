"""Config of the ``discord`` exporter.

The webhook URL holds a secret token: it is never part of a repr, a log line or a
config error (see :func:`trainwire.exporters.discord.client.redact`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from trainwire.collector.component import ComponentID
from trainwire.collector.exporterhelper import QueueConfig, RetryConfig

__all__ = [
    "EVENTS",
    "MODES",
    "RULE_TYPES",
    "AlertRuleConfig",
    "ArtifactsConfig",
    "DiscordExporterConfig",
    "parse_webhook_url",
]

MODES = ("channel", "forum")
EVENTS = ("start", "progress", "artifacts", "alerts", "end")
"""What may be posted: run start card, progress, artifacts, alerts, end summary."""
RULE_TYPES = ("threshold", "nan", "no_improvement", "gpu_temperature")
LEVELS = ("info", "warn", "error")
_WEBHOOK = re.compile(
    r"(?P<base>https?://(?P<host>[^/\s:]+)(?::\d+)?)/api(?:/v\d+)?/webhooks/"
    r"(?P<id>\d+)/(?P<token>[A-Za-z0-9_.-]+)/?"
)
_LOOPBACK = re.compile(r"localhost|127(?:\.\d{1,3}){3}|\[::1\]")
_SNOWFLAKE = re.compile(r"\d{1,20}")


def parse_webhook_url(url: str) -> tuple[str, str] | None:
    """``(webhook id, token)`` of a webhook URL, or None when it does not look like one."""
    match = _WEBHOOK.fullmatch(url.strip())
    if match is None:
        return None
    if match.group(0).startswith("http://") and not _LOOPBACK.fullmatch(match.group("host")):
        return None  # plaintext only to a local test server: the token must not travel bare
    return match.group("id"), match.group("token")


@dataclass(frozen=True)
class AlertRuleConfig:
    """One alert rule, checked against every point of a run (GPU rules: host figures)."""

    type: str = "threshold"
    """``threshold``, ``nan`` (NaN or ±inf), ``no_improvement`` or ``gpu_temperature``."""
    metric: str = ""
    """The metric it watches (not for ``gpu_temperature``)."""
    above: float | None = None
    """``threshold``: alert when the value is above this."""
    below: float | None = None
    """``threshold``: alert when the value is below this."""
    steps: int = 0
    """``no_improvement``: alert after this many steps without a new best."""
    goal: str = ""
    """``no_improvement``: ``min`` or ``max``; default: the run's declared goal, else min."""
    celsius: float = 85.0
    """``gpu_temperature``: alert when a GPU of the run's host reaches this."""
    level: str = "warn"
    name: str = ""
    """Shown as the alert's title; default: a description of the rule."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems: list[str] = []
        if self.type not in RULE_TYPES:
            return [f"type: '{self.type}' is not one of {', '.join(RULE_TYPES)}"]
        if self.type != "gpu_temperature" and not self.metric:
            problems.append(f"metric: required for a {self.type} rule; name the metric to watch")
        if self.type == "threshold":
            if self.above is None and self.below is None:
                problems.append("above/below: a threshold rule needs above, below or both")
            for key in ("above", "below"):
                value = getattr(self, key)
                if value is not None and not math.isfinite(value):
                    problems.append(f"{key}: must be a finite number")
        if self.type == "no_improvement" and self.steps < 1:
            problems.append("steps: a no_improvement rule needs steps of at least 1")
        if self.goal not in ("", "min", "max"):
            problems.append(f"goal: '{self.goal}' is not min or max")
        if self.level not in LEVELS:
            problems.append(f"level: '{self.level}' is not one of {', '.join(LEVELS)}")
        return problems

    def title(self) -> str:
        """The alert title this rule posts."""
        if self.name:
            return self.name
        if self.type == "threshold":
            bounds = [f"> {self.above:g}" if self.above is not None else ""]
            bounds.append(f"< {self.below:g}" if self.below is not None else "")
            return f"{self.metric} {' or '.join(b for b in bounds if b)}"
        if self.type == "nan":
            return f"{self.metric} is not finite"
        if self.type == "no_improvement":
            return f"{self.metric}: no improvement for {self.steps} steps"
        return f"GPU temperature ≥ {self.celsius:g} °C"


@dataclass(frozen=True)
class ArtifactsConfig:
    """``artifacts``: where the collector keeps artifact blobs, to attach them."""

    directory: str = "./trainwire-data/artifacts"
    """The OTLP receiver's ``artifacts::directory`` (same default); empty: never attach."""


@dataclass(frozen=True)
class DiscordExporterConfig:
    """Settings of the ``discord`` exporter."""

    webhook_url: str = field(default="", repr=False)
    """``https://discord.com/api/webhooks/ID/TOKEN``, normally ``${env:DISCORD_WEBHOOK_URL}``."""
    mode: str = "channel"
    """``channel`` posts in the webhook's channel; ``forum`` opens one thread per run."""
    username: str = "trainwire"
    avatar_url: str = ""
    mention_users: list[str] = field(default_factory=list)
    """User ids pinged by alerts (and crashed/failed ends); nobody else can be pinged."""
    mention_roles: list[str] = field(default_factory=list)
    """Role ids pinged by alerts."""
    update_interval_s: float = 60.0
    """Progress of a run is posted at most this often, coalesced to the latest values."""
    events: list[str] = field(default_factory=lambda: list(EVENTS))
    """What to post: any of start, progress, artifacts, alerts, end."""
    max_attachment_bytes: int = 10 * 1024 * 1024
    """Discord's webhook upload limit (10 MiB by default; boosted servers allow more)."""
    dry_run: bool = False
    """Log the payloads instead of sending them."""
    storage: str = ""
    """Storage extension that keeps thread ids and what was posted across restarts."""
    artifacts: ArtifactsConfig = field(default_factory=ArtifactsConfig)
    rules: list[AlertRuleConfig] = field(default_factory=list)
    chart_metrics: list[str] = field(default_factory=list)
    """Metrics drawn in the end summary's chart; default: declared goals, else the first 4."""
    state_retention_s: float = 86400.0
    """How long after a run ends what it posted is remembered (replays are then not
    posted twice); later its records are pruned from storage."""
    timeout_s: float = 15.0
    """Deadline of one HTTP request to Discord."""
    sending_queue: QueueConfig = field(default_factory=QueueConfig)
    """When full, the oldest progress updates are dropped (counted); run events never."""
    retry_on_failure: RetryConfig = field(
        default_factory=lambda: RetryConfig(max_elapsed_time_s=0.0)
    )
    """5xx answers and network errors are retried with backoff (by default forever:
    run start, end and alerts are never given up)."""

    def validate(self) -> list[str]:
        """Return one line per problem (never echoing the webhook URL)."""
        problems: list[str] = []
        if not self.webhook_url.strip():
            problems.append(
                "webhook_url: required; e.g. webhook_url: ${env:DISCORD_WEBHOOK_URL}"
                " (Server Settings → Integrations → Webhooks → Copy Webhook URL)"
            )
        elif parse_webhook_url(self.webhook_url) is None:
            problems.append(
                "webhook_url: not a Discord webhook URL (value hidden: it holds a token);"
                " expected https://discord.com/api/webhooks/<id>/<token>"
            )
        if self.mode not in MODES:
            problems.append(f"mode: '{self.mode}' is not one of {', '.join(MODES)}")
        if not 1 <= len(self.username) <= 80:
            problems.append("username: must be 1 to 80 characters (Discord's rule)")
        elif "clyde" in self.username.lower() or "discord" in self.username.lower():
            problems.append("username: Discord refuses names containing 'clyde' or 'discord'")
        if self.avatar_url and not re.fullmatch(r"https?://\S+", self.avatar_url):
            problems.append("avatar_url: expected an http(s):// URL of an image")
        for key in ("mention_users", "mention_roles"):
            for i, value in enumerate(getattr(self, key)):
                if not isinstance(value, str) or not _SNOWFLAKE.fullmatch(value):
                    problems.append(
                        f"{key}[{i}]: expected a numeric Discord id as a quoted string"
                        " (Developer Mode → right-click → Copy ID)"
                    )
        if self.update_interval_s < 1:
            problems.append("update_interval_s: must be at least 1 (Discord allows ~5 posts/2 s)")
        for i, event in enumerate(self.events):
            if event not in EVENTS:
                problems.append(f"events[{i}]: '{event}' is not one of {', '.join(EVENTS)}")
        if self.max_attachment_bytes < 0:
            problems.append("max_attachment_bytes: must be 0 (never attach) or more")
        if not self.state_retention_s >= 0:
            problems.append("state_retention_s: must be 0 or more (seconds)")
        if self.timeout_s <= 0:
            problems.append("timeout_s: must be more than 0")
        if self.storage:
            try:
                ComponentID.parse(self.storage)
            except ValueError as exc:
                problems.append(f"storage: {exc}")
        if self.sending_queue.enabled and not self.sending_queue.storage:
            problems.extend(f"sending_queue::{line}" for line in self.sending_queue.validate())
        return problems
