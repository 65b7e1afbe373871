"""What a run records about where it ran: git, packages, command line, Python."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import distributions
from typing import Any

__all__ = ["environment"]


def environment(*, capture_git: bool, capture_pip: bool) -> dict[str, Any]:
    """The ``ml.run.start`` fields describing this process; each capture is best-effort."""
    info: dict[str, Any] = {"argv": list(sys.argv), "python": platform.python_version()}
    if capture_git:
        git = _git()
        if git:
            info["git"] = git
    if capture_pip:
        info["packages"] = sorted(
            f"{d.metadata['Name']}=={d.version}" for d in distributions() if d.metadata["Name"]
        )
    return info


def _git() -> dict[str, Any] | None:
    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], capture_output=True, text=True, timeout=5, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        return out.strip()

    commit = run("rev-parse", "HEAD")
    if not commit:
        return None
    status = run("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status),
        "remote": _redact(run("config", "--get", "remote.origin.url")),
    }


def _redact(url: str | None) -> str | None:
    """Drop credentials from a remote URL (https://user:token@host/...)."""
    if not url or "@" not in url or "://" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
