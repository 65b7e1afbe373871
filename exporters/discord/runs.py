"""What the exporter knows of each run: its card, latest and best metrics, a chart's history."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import from_any_value

__all__ = ["History", "MetricPoint", "RunInfo", "resource_attributes", "run_points"]

_HISTORY_POINTS = 400


class History:
    """A bounded, evenly thinned series of (step, value) for the end chart."""

    def __init__(self, capacity: int = _HISTORY_POINTS) -> None:
        self.capacity = capacity
        self.points: list[tuple[float, float]] = []
        self.stride = 1
        self._seen = 0

    def add(self, step: float, value: float) -> None:
        """Keep every ``stride``-th point; halve the kept ones when full."""
        self._seen += 1
        if (self._seen - 1) % self.stride:
            return
        self.points.append((step, value))
        if len(self.points) >= self.capacity:
            self.points = self.points[::2]
            self.stride *= 2

    def restore(self, points: list[tuple[float, float]], stride: int) -> None:
        """Continue from kept ``points`` thinned at ``stride`` (a stored summary)."""
        self.points = points[-self.capacity + 1 :] if len(points) >= self.capacity else points
        self.stride = max(1, int(stride))
        self._seen = len(self.points) * self.stride


@dataclass
class RunInfo:
    """One run, as its events and points describe it."""

    run_id: str
    name: str = ""
    experiment: str = ""
    host: str = ""
    group: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    git: dict[str, Any] = field(default_factory=dict)
    goals: dict[str, str] = field(default_factory=dict)
    """Metric → ``min``/``max`` from ``define_metric``."""
    summary: dict[str, Any] = field(default_factory=dict)
    latest: dict[str, tuple[float, int | None]] = field(default_factory=dict)
    """Metric → (latest value, its step)."""
    best: dict[str, tuple[float, int | None]] = field(default_factory=dict)
    history: dict[str, History] = field(default_factory=dict)
    step: int | None = None
    first_seen_s: float = 0.0
    progress_dirty: bool = False
    last_progress_s: float = 0.0
    ended: bool = False
    status: str = ""

    @property
    def title(self) -> str:
        """``experiment / name`` (or the run id)."""
        name = self.name or self.run_id
        return f"{self.experiment} / {name}" if self.experiment else name

    def observe(self, metric: str, value: float, step: int | None) -> None:
        """Record one point: latest, best (by declared goal) and the chart's history."""
        self.latest[metric] = (value, step)
        if step is not None and (self.step is None or step > self.step):
            self.step = step
        if not math.isfinite(value):
            return
        goal = self.goals.get(metric, "min")
        best = self.best.get(metric)
        if best is None or (value < best[0] if goal == "min" else value > best[0]):
            self.best[metric] = (value, step)
        x = (
            float(step)
            if step is not None
            else float(len(self.history.get(metric, History()).points))
        )
        self.history.setdefault(metric, History()).add(x, value)
        self.progress_dirty = True

    def apply_tags(self, body: dict[str, Any]) -> None:
        """Apply an ``ml.run.tags`` body ({set, add, remove})."""
        for key, value in (body.get("set") or {}).items():
            label = f"{key}={value}"
            if label not in self.tags:
                self.tags.append(label)
        for label in body.get("add") or []:
            if str(label) not in self.tags:
                self.tags.append(str(label))
        for label in body.get("remove") or []:
            if str(label) in self.tags:
                self.tags.remove(str(label))


@dataclass(frozen=True)
class MetricPoint:
    """One logged scalar of a run, with the step of its ``log()`` call."""

    run_id: str
    metric: str
    value: float
    step: int | None


def resource_attributes(resource: Resource) -> dict[str, Any]:
    """The resource's attributes as plain values."""
    return {kv.key: from_any_value(kv.value) for kv in resource.attributes}


def run_points(
    request: ExportMetricsServiceRequest,
) -> Iterator[tuple[dict[str, Any], list[MetricPoint]]]:
    """For each run resource: its attributes and its gauge points, each with its step."""
    for resource_metrics in request.resource_metrics:
        attributes = resource_attributes(resource_metrics.resource)
        run_id = attributes.get(semconv.ML_RUN_ID)
        if not run_id:
            continue
        steps: dict[int, int] = {}
        values: list[tuple[str, float, int]] = []
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                if metric.WhichOneof("data") != "gauge":
                    continue
                for point in metric.gauge.data_points:
                    number = (
                        point.as_double
                        if point.WhichOneof("value") == "as_double"
                        else float(point.as_int)
                    )
                    if metric.name == semconv.METRIC_STEP:
                        steps[point.time_unix_nano] = int(number)
                    elif scope.scope.name == semconv.SCOPE_NAME:
                        values.append((metric.name, number, point.time_unix_nano))
        points = [
            MetricPoint(str(run_id), name, value, steps.get(time_ns))
            for name, value, time_ns in values
        ]
        yield attributes, points
