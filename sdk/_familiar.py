"""The rest of the Run API, under the names users of MLflow, W&B and whirr already type.

A mixin of :class:`trainwire.Run`: each method only builds an event or a ``log()``
call, so the same guarantees hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trainwire import semconv
from trainwire.errors import InvalidValueError
from trainwire.histograms import bucketize
from trainwire.values import as_labels

__all__ = ["FamiliarNames"]

_GOALS = ("min", "max")
_LEVELS = ("info", "warn", "error")


class FamiliarNames:
    """``log_metric``, ``log_param``, tags as labels, alerts and metric definitions."""

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        raise NotImplementedError

    def log_params(self, params: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _event(self, name: str, body: Any, attributes: Mapping[str, Any] | None = None) -> None:
        raise NotImplementedError

    def log_histogram(self, key: str, values: Any, step: int | None = None, bins: int = 32) -> None:
        """Log a distribution (weights, gradients, predictions) as one OTLP Histogram point."""
        if not isinstance(key, str) or not key:
            raise InvalidValueError(f"histogram names must be non-empty strings, got {key!r}")
        bounds, counts, total, low, high = bucketize(key, values, bins)
        self._histogram(key, bounds, counts, total, low, high, step)

    def _histogram(
        self,
        key: str,
        bounds: list[float],
        counts: list[int],
        total: float,
        low: float,
        high: float,
        step: int | None,
    ) -> None:
        raise NotImplementedError

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        """Log one scalar (MLflow's name): the same as ``log({key: value}, step)``."""
        self.log({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log several scalars (MLflow's name): the same as ``log(metrics, step)``."""
        self.log(metrics, step=step)

    def log_param(self, key: str, value: Any) -> None:
        """Record one parameter."""
        self.log_params({key: value})

    def add_tags(self, labels: str | Sequence[str]) -> None:
        """Add labels such as ``"baseline"`` to the run."""
        self._event(semconv.EVENT_RUN_TAGS, {"add": as_labels(labels)})

    def remove_tags(self, labels: str | Sequence[str]) -> None:
        """Remove labels from the run."""
        self._event(semconv.EVENT_RUN_TAGS, {"remove": as_labels(labels)})

    def alert(self, title: str, text: str, level: str = "info") -> None:
        """Raise an alert (shown by the store, and posted by the Discord exporter)."""
        if level not in _LEVELS:
            raise InvalidValueError(
                f"alert level must be one of {', '.join(_LEVELS)}, got {level!r}"
            )
        if not isinstance(title, str) or not title:
            raise InvalidValueError("alert title must be a non-empty string")
        self._event(semconv.EVENT_ALERT, {"title": title, "text": str(text), "level": level})

    def define_metric(self, key: str, goal: str = "min", step_metric: str | None = None) -> None:
        """Say what "best" means for ``key`` (``min`` or ``max``) and, optionally, its x-axis."""
        if goal not in _GOALS:
            raise InvalidValueError(f"goal must be 'min' or 'max', got {goal!r}")
        if not isinstance(key, str) or not key:
            raise InvalidValueError("define_metric needs a metric name")
        body = {"key": key, "goal": goal, "step_metric": step_metric}
        self._event(semconv.EVENT_RUN_METRIC_SPEC, body)
