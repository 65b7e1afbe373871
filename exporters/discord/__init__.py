"""The ``discord`` exporter: a run's story and its alerts, posted to a Discord webhook.

Run start card, throttled progress with the host's CPU/RAM/GPU figures, artifacts
as attachments within the upload limit, alerts (``ml.alert`` events and configured
rules) with mentions, and an end summary with a chart; channel mode, or forum mode
with one thread per run kept across restarts. Obeys Discord's message limits and
rate limits (REFERENCE.md §2).
"""

from __future__ import annotations

from trainwire.exporters.discord.config import (
    AlertRuleConfig,
    ArtifactsConfig,
    DiscordExporterConfig,
    parse_webhook_url,
)
from trainwire.exporters.discord.factory import factory

__all__ = [
    "AlertRuleConfig",
    "ArtifactsConfig",
    "DiscordExporterConfig",
    "factory",
    "parse_webhook_url",
]
