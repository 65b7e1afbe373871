"""The collector's own metrics: counters and gauges with labels, kept in-process.

Components count what they accepted, refused, exported and dropped under the
OpenTelemetry Collector's names (``otelcol_receiver_accepted_metric_points`` ...).
The registry only keeps numbers; exposition (Prometheus text on the telemetry
endpoint) reads :meth:`Telemetry.collect`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["Counter", "Gauge", "Sample", "Telemetry"]

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    """One labelled value of a metric family."""

    name: str
    kind: str  # "counter" | "gauge"
    description: str
    labels: dict[str, str]
    value: float


@dataclass
class _Family:
    name: str
    kind: str
    description: str
    label_names: tuple[str, ...]
    values: dict[Labels, float] = field(default_factory=dict)
    functions: dict[Labels, Callable[[], float]] = field(default_factory=dict)


class Counter:
    """A monotonically increasing count, per label set."""

    def __init__(self, family: _Family, lock: threading.Lock) -> None:
        self._family = family
        self._lock = lock

    def add(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` (>= 0) to the series with these labels."""
        if amount < 0:
            raise ValueError("counters only go up")
        key = _key(self._family, labels)
        with self._lock:
            self._family.values[key] = self._family.values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        """The current count of one series (0 if never counted)."""
        return self._family.values.get(_key(self._family, labels), 0.0)


class Gauge:
    """A value that goes up and down, set directly or read from a function."""

    def __init__(self, family: _Family, lock: threading.Lock) -> None:
        self._family = family
        self._lock = lock

    def set(self, value: float, **labels: str) -> None:
        """Set the series with these labels."""
        with self._lock:
            self._family.values[_key(self._family, labels)] = value

    def set_function(self, read: Callable[[], float], **labels: str) -> None:
        """Read the series from ``read()`` at collection time."""
        with self._lock:
            self._family.functions[_key(self._family, labels)] = read

    def remove(self, **labels: str) -> None:
        """Forget one series."""
        key = _key(self._family, labels)
        with self._lock:
            self._family.values.pop(key, None)
            self._family.functions.pop(key, None)


class Telemetry:
    """A registry of the collector's own metric families."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {}

    def counter(self, name: str, description: str, labels: tuple[str, ...] = ()) -> Counter:
        """Return the counter family ``name`` (created once; the same object each call)."""
        return Counter(self._family(name, "counter", description, labels), self._lock)

    def gauge(self, name: str, description: str, labels: tuple[str, ...] = ()) -> Gauge:
        """Return the gauge family ``name``."""
        return Gauge(self._family(name, "gauge", description, labels), self._lock)

    def collect(self) -> Iterator[Sample]:
        """Every current sample, families in registration order."""
        with self._lock:
            families = list(self._families.values())
            snapshot = [(f, dict(f.values), dict(f.functions)) for f in families]
        for family, values, functions in snapshot:
            for key, value in values.items():
                yield Sample(family.name, family.kind, family.description, dict(key), value)
            for key, read in functions.items():
                try:
                    value = float(read())
                except Exception:  # a broken reader must not break the endpoint
                    continue
                yield Sample(family.name, family.kind, family.description, dict(key), value)

    def _family(self, name: str, kind: str, description: str, labels: tuple[str, ...]) -> _Family:
        with self._lock:
            family = self._families.get(name)
            if family is None:
                family = self._families[name] = _Family(name, kind, description, labels)
            elif family.kind != kind or family.label_names != labels:
                raise ValueError(
                    f"metric {name} already registered as {family.kind}{family.label_names}"
                )
            return family


def _key(family: _Family, labels: dict[str, str]) -> Labels:
    if set(labels) != set(family.label_names):
        raise ValueError(f"{family.name} takes labels {family.label_names}, got {tuple(labels)}")
    return tuple((name, str(labels[name])) for name in family.label_names)
