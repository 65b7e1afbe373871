"""Config of the ``attributes`` processor, shaped like the OpenTelemetry Collector's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ACTIONS", "AttributeAction", "AttributesProcessorConfig", "MetricRename"]

ACTIONS = ("insert", "update", "upsert", "delete", "rename")
"""insert: add when absent; update: set when present; upsert: set either way;
delete: remove; rename: move the value to ``new_key`` (replacing what is there)."""

_NEEDS_VALUE = ("insert", "update", "upsert")

# The item classes have no validate() of their own: the decoder calls validate() on every
# dataclass it builds, and AttributesProcessorConfig.validate() already checks them all, once.


@dataclass(frozen=True)
class AttributeAction:
    """One entry of ``actions``, applied to data point, log record and span attributes."""

    key: str = ""
    """The attribute acted on."""
    action: str = ""
    """One of insert, update, upsert, delete, rename."""
    value: Any = None
    """The value set by insert, update and upsert: a string, number, boolean, list or map."""
    new_key: str = ""
    """The key that rename moves the value to."""

    def problems(self) -> list[str]:
        """Return one ``field: message`` line per problem."""
        if self.action not in ACTIONS:
            given = f"'{self.action}' is not" if self.action else "required; must be"
            return [f"action: {given} one of {', '.join(ACTIONS)}"]
        problems = [] if self.key else ["key: required"]
        if self.action in _NEEDS_VALUE and self.value is None:
            problems.append(f"value: required by action '{self.action}'")
        if self.action not in _NEEDS_VALUE and self.value is not None:
            problems.append(f"value: not used by action '{self.action}'; remove it")
        if self.action == "rename" and not self.new_key:
            problems.append("new_key: required by action 'rename'")
        elif self.action == "rename" and self.new_key == self.key:
            problems.append(f"new_key: '{self.new_key}' is the key itself")
        elif self.action != "rename" and self.new_key:
            problems.append(f"new_key: only used by action 'rename', not '{self.action}'")
        return problems


@dataclass(frozen=True)
class MetricRename:
    """One entry of ``rename_metrics``: ``re.sub(pattern, replacement, name)``."""

    pattern: str = ""
    """A regular expression searched for in the metric name."""
    replacement: str = ""
    """What replaces each match; ``\\1`` and ``\\g<name>`` name groups of the pattern."""

    def problems(self) -> list[str]:
        """Return one ``field: message`` line per problem."""
        if not self.pattern:
            return ["pattern: required"]
        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            return [f"pattern: {self.pattern!r} is not a valid regular expression: {exc}"]
        try:
            compiled.sub(self.replacement, "")  # parses the template, which names groups
        except (re.error, IndexError) as exc:
            return [f"replacement: {self.replacement!r} does not fit the pattern: {exc}"]
        return []


@dataclass(frozen=True)
class AttributesProcessorConfig:
    """Settings of the ``attributes`` processor; the defaults change nothing."""

    actions: tuple[AttributeAction, ...] = ()
    """Applied in order to the attributes of every data point, log record and span."""
    rename_metrics: tuple[MetricRename, ...] = ()
    """Applied in order to every metric name but ``ml.step``."""

    def validate(self) -> list[str]:
        """Return one line per problem, naming the entry."""
        problems = [
            f"actions[{i}]::{line}" for i, a in enumerate(self.actions) for line in a.problems()
        ]
        problems.extend(
            f"rename_metrics[{i}]::{line}"
            for i, rename in enumerate(self.rename_metrics)
            for line in rename.problems()
        )
        return problems
