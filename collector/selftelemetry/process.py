"""The collector process's own uptime and resident memory."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["ProcessStats"]


class ProcessStats:
    """Reads uptime from a clock and resident memory from ``/proc/self/statm``.

    Both sources are injected, like client_python's ``ProcessCollector(proc=...)``.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        statm_path: str | os.PathLike[str] = "/proc/self/statm",
        page_size: int | None = None,
    ) -> None:
        self._clock = clock
        self._started = clock()
        self._statm = Path(statm_path)
        self._page_size = page_size if page_size is not None else _page_size()

    def uptime_s(self) -> float:
        """Seconds since this object was made (at collector start)."""
        return max(0.0, self._clock() - self._started)

    def rss_bytes(self) -> int | None:
        """Resident set size in bytes, or None where ``statm`` cannot be read (not Linux)."""
        try:
            fields = self._statm.read_text().split()
            return int(fields[1]) * self._page_size
        except (OSError, IndexError, ValueError):
            return None


def _page_size() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 4096
