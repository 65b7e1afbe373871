"""Config of the hostmetrics receiver."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SCRAPERS", "HostmetricsReceiverConfig"]

SCRAPERS = ("cpu", "load", "memory", "paging", "disk", "filesystem", "network", "process")
"""What the receiver can read, named as the OpenTelemetry Collector's hostmetrics scrapers."""


def _all_scrapers() -> dict[str, Any]:
    return {name: None for name in SCRAPERS}


@dataclass(frozen=True)
class HostmetricsReceiverConfig:
    """Settings of the ``hostmetrics`` receiver."""

    collection_interval_s: float = 10.0
    """How often the host is read."""
    scrapers: dict[str, Any] = field(default_factory=_all_scrapers)
    """The scrapers to run, each a key with no settings (``cpu:``); all when left out.
    ``process`` reads the processes of the live runs of this host."""
    per_cpu: bool = True
    """Also report ``system.cpu.utilization`` of each logical CPU."""
    host_name: str = ""
    """``host.name`` of the points; empty means this machine's name, as the SDK reports."""
    root_path: str = ""
    """Where the host's root file system is mounted when the collector runs in a
    container (e.g. ``/hostfs``): psutil reads ``<root_path>/proc``, file systems are
    the host's mounts, and run processes in pods are found among the host's pids."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        if not 0.1 <= self.collection_interval_s <= 86400:
            problems.append("collection_interval_s: must be between 0.1 and 86400 seconds")
        if not self.scrapers:
            problems.append(
                f"scrapers: name at least one of {', '.join(SCRAPERS)}, or leave scrapers out"
            )
        for name, settings in self.scrapers.items():
            if name not in SCRAPERS:
                problems.append(f"scrapers::{name}: unknown scraper (valid: {', '.join(SCRAPERS)})")
            elif settings not in (None, {}):
                problems.append(f"scrapers::{name}: takes no settings; write '{name}:' alone")
        if self.root_path and not (Path(self.root_path) / "proc").is_dir():
            problems.append(
                f"root_path: {self.root_path!r} has no proc directory; mount the host's /"
                " there (read-only) or leave root_path out"
            )
        return problems
