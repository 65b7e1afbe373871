"""Every unfinished run of this process, and what happens to them at exit and at fork.

Open runs are finished when the main thread ends, *before* concurrent.futures shuts its
executors down (the embedded store writes through one): threading's exit hooks run in
reverse order of registration, and importing concurrent.futures.thread here registers its
hook first. Plain atexit would run too late. In a forked child (a DataLoader worker) the
runs are marked so the child never sends and never waits.
"""

from __future__ import annotations

import atexit
import concurrent.futures.thread  # noqa: F401 - see the module docstring
import logging
import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainwire._run import Run

__all__ = ["add", "discard", "live_runs", "warn_forked_child"]

logger = logging.getLogger("trainwire")
_live_runs: set[Run] = set()
_warned_fork = False


def add(run: Run) -> None:
    """Track an open run."""
    _live_runs.add(run)


def discard(run: Run) -> None:
    """Stop tracking a run (it has finished)."""
    _live_runs.discard(run)


def live_runs() -> list[Run]:
    """Runs of this process that have not finished."""
    return list(_live_runs)


def warn_forked_child(run_id: str) -> None:
    """Say once that logging in a forked child is ignored."""
    global _warned_fork
    if not _warned_fork:
        _warned_fork = True
        logger.warning(
            "trainwire: logging in forked child pid %d is ignored: run %s is sent by its parent"
            " process (call trainwire.init() in the child for a run of its own)",
            os.getpid(),
            run_id,
        )


def _mark_forked_runs() -> None:
    for run in list(_live_runs):
        run._after_fork_in_child()


def _finish_live_runs() -> None:
    for run in list(_live_runs):
        run._at_exit()


_register = getattr(threading, "_register_atexit", None)
if _register is not None:
    _register(_finish_live_runs)
else:  # pragma: no cover - other Python implementations
    atexit.register(_finish_live_runs)

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked_runs)
