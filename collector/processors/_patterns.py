"""Regular expressions in processor configs: checked at load time, matched against whole names."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["NamePatterns", "pattern_problems"]


def pattern_problems(path: str, patterns: Sequence[object]) -> list[str]:
    """One ``path[i]: ...`` line per pattern that is not a valid regular expression."""
    problems = []
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str):
            continue  # the config decoder has already said it must be a string
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(
                f"{path}[{index}]: {pattern!r} is not a valid regular expression: {exc}"
            )
    return problems


class NamePatterns:
    """Patterns any of which must match a whole name (``loss`` is not ``val_loss``)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = [re.compile(p) for p in patterns]

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def matches(self, name: str) -> bool:
        """Whether one of the patterns matches all of ``name``."""
        return any(p.fullmatch(name) for p in self._patterns)
