"""How a process's end reaches its runs: an uncaught exception or SIGTERM.

Installed once, by the first ``init()``, and always chained: the handler and hook
that were in place keep working (we call them after recording the end). Runs
still open at a normal interpreter exit are finished by ``_run``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

from trainwire import semconv
from trainwire._registry import live_runs

__all__ = ["install"]

_installed = False
_lock = threading.Lock()
SIGTERM_EXIT_CODE = 128 + signal.SIGTERM


def install() -> None:
    """Record uncaught exceptions as ``failed`` and SIGTERM as ``killed``; safe to call again."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    _chain_excepthook()
    if threading.current_thread() is threading.main_thread():
        _chain_sigterm()


def _chain_excepthook() -> None:
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        status = (
            semconv.STATUS_KILLED
            if issubclass(exc_type, KeyboardInterrupt)
            else semconv.STATUS_FAILED
        )
        for run in live_runs():
            run._end(status, exc, None, exit_code=1)
        previous(exc_type, exc, tb)

    sys.excepthook = hook


def _chain_sigterm() -> None:
    previous: Any = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        return  # the process chose to survive SIGTERM; so do its runs

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        for run in live_runs():
            run._end(semconv.STATUS_KILLED, None, None, exit_code=SIGTERM_EXIT_CODE)
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
