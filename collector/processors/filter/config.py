"""Config of the ``filter`` processor."""

from __future__ import annotations

from dataclasses import dataclass, field

from trainwire.collector.processors._patterns import pattern_problems

__all__ = ["FilterProcessorConfig", "LogsFilterConfig", "MetricsFilterConfig", "TracesFilterConfig"]

# The section classes have no validate() of their own: the decoder calls validate() on every
# dataclass it builds, and FilterProcessorConfig.validate() already checks them all, once.


@dataclass(frozen=True)
class MetricsFilterConfig:
    """``metrics``: which metrics pass, by name. ``ml.step`` always passes."""

    include: tuple[str, ...] = ()
    """Regular expressions; when given, only metrics whose whole name matches one pass."""
    exclude: tuple[str, ...] = ()
    """Regular expressions; metrics whose whole name matches one are dropped."""


@dataclass(frozen=True)
class LogsFilterConfig:
    """``logs``: which log records pass, by event name."""

    exclude_event_names: tuple[str, ...] = ()
    """Regular expressions; records whose whole event name matches one are dropped."""


@dataclass(frozen=True)
class TracesFilterConfig:
    """``traces``: which spans pass, by span name."""

    exclude_span_names: tuple[str, ...] = ()
    """Regular expressions; spans whose whole name matches one are dropped."""


@dataclass(frozen=True)
class FilterProcessorConfig:
    """Settings of the ``filter`` processor; the defaults let everything through."""

    metrics: MetricsFilterConfig = field(default_factory=MetricsFilterConfig)
    logs: LogsFilterConfig = field(default_factory=LogsFilterConfig)
    traces: TracesFilterConfig = field(default_factory=TracesFilterConfig)

    def validate(self) -> list[str]:
        """Return one line per pattern that is not a valid regular expression."""
        return [
            *pattern_problems("metrics::include", self.metrics.include),
            *pattern_problems("metrics::exclude", self.metrics.exclude),
            *pattern_problems("logs::exclude_event_names", self.logs.exclude_event_names),
            *pattern_problems("traces::exclude_span_names", self.traces.exclude_span_names),
        ]
