"""The run that module-level ``trainwire.log()`` and ``trainwire.finish()`` act on."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainwire._run import Run

_lock = threading.Lock()
_current: Run | None = None


def get() -> Run | None:
    """The most recently started run that has not finished."""
    return _current


def set(run: Run) -> None:  # noqa: A001 - module-scoped name
    """Make ``run`` the active run."""
    global _current
    with _lock:
        _current = run


def clear(run: Run) -> None:
    """Forget ``run`` if it is the active one."""
    global _current
    with _lock:
        if _current is run:
            _current = None
