"""Capture what a script prints as ``ml.console`` events, while it still reaches the terminal.

``sys.stdout``/``sys.stderr`` are wrapped, not replaced in spirit: every write goes to
the original stream first, and every attribute the wrapper does not define is the
original's. Each complete line becomes one event with ``log.iostream`` = stdout or
stderr. ``uninstall`` puts the original back if the wrapper is still in place.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["ConsoleCapture"]

_MAX_LINE = 16_384  # a line longer than this is cut into pieces, so memory stays bounded


class _Tee:
    """A text stream that writes through to ``original`` and reports complete lines."""

    def __init__(self, original: TextIO, emit: Callable[[str], None]) -> None:
        self._original = original
        self._emit = emit
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        written = self._original.write(text)
        with self._lock:
            pending = self._partial + text
            *lines, self._partial = pending.split("\n")
            while len(self._partial) > _MAX_LINE:
                lines.append(self._partial[:_MAX_LINE])
                self._partial = self._partial[_MAX_LINE:]
        for line in lines:
            self._emit(line)
        return written

    def flush_partial(self) -> None:
        with self._lock:
            rest, self._partial = self._partial, ""
        if rest:
            self._emit(rest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class ConsoleCapture:
    """Wraps stdout and stderr for one run."""

    def __init__(self, emit: Callable[[str, str], None]) -> None:
        self._emit = emit
        self._tees: dict[str, tuple[_Tee, TextIO]] = {}

    def install(self) -> None:
        """Start capturing."""
        for name in ("stdout", "stderr"):
            original = getattr(sys, name)
            if original is None:
                continue
            tee = _Tee(original, functools.partial(self._emit, name))
            setattr(sys, name, tee)
            self._tees[name] = (tee, original)

    def uninstall(self) -> None:
        """Report unfinished lines and restore the streams that are still ours."""
        for name, (tee, original) in self._tees.items():
            tee.flush_partial()
            if getattr(sys, name) is tee:
                setattr(sys, name, original)
        self._tees.clear()
