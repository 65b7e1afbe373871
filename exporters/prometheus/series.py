"""The latest value of every series, with delta accumulation, expiry and a cardinality bound.

Ingestion (the collector's event loop) and scrapes (the HTTP thread) share one
lock, held only for dictionary updates and for copying the dictionaries: each
entry is an immutable tuple replaced whole, so a scrape renders its copy without
the lock and never makes ingestion wait on formatting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Entry", "Family", "Histogram", "Resource", "SeriesStore", "Snapshot", "Summary"]

logger = logging.getLogger(__name__)

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, int, Labels]
"""Family name, resource id, labels."""


@dataclass(frozen=True)
class Family:
    """One Prometheus metric family: name (no ``_total``), type, help and unit word."""

    name: str
    kind: str
    """``gauge``, ``counter``, ``histogram`` or ``summary``."""
    help: str = ""
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Histogram:
    """Explicit-bucket counts (per bucket, ``len(bounds) + 1`` of them), count and sum."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    count: int
    sum: float | None


@dataclass(frozen=True, slots=True)
class Summary:
    """Quantiles ``(q, value)``, count and sum."""

    quantiles: tuple[tuple[float, float], ...]
    count: int
    sum: float


Value = float | Histogram | Summary


class Entry(NamedTuple):
    """A series' latest value; replaced whole at each update."""

    value: Value
    labels: dict[str, str]
    """Every label but the run labels, which are added at scrape (a run can be renamed)."""
    created: float | None
    """Start time in seconds (``_created``), for counters and histograms."""
    time_ns: int
    touched: float
    """Monotonic clock at the last update (for expiry)."""
    resource: int


@dataclass
class Resource:
    """What a resource contributes: labels on its series, ``target_info``, its run."""

    series_labels: dict[str, str]
    target_labels: dict[str, str]
    run_id: str = ""
    run_name: str = ""
    """From the resource itself (``ml.run.name``) if a sender puts it there."""
    experiment: str = ""
    rank: str = ""


@dataclass
class Snapshot:
    """What one scrape renders: copies taken under the lock."""

    families: dict[str, Family]
    series: dict[str, dict[SeriesKey, Entry]]
    """Each family's series (copies of the store's dictionaries)."""
    resources: dict[int, Resource]
    run_names: dict[str, str]
    live: int = field(default=0)


class SeriesStore:
    """Thread-safe latest values of every series.

    Args:
        expiration_s: a series goes this long after its last update, or after its run ended.
        max_series: new series past this many are refused (one log line per episode).
        clock: monotonic seconds (injected for tests).
    """

    def __init__(
        self,
        *,
        expiration_s: float,
        max_series: int,
        clock: Callable[[], float] = time.monotonic,
        on_refused: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.expiration_s = expiration_s
        self.max_series = max_series
        self._clock = clock
        self._on_refused = on_refused
        self._lock = threading.Lock()
        self._families: dict[str, Family] = {}
        self._series: dict[str, dict[SeriesKey, Entry]] = {}
        """Series by family name: a scrape copies each family's dictionary whole."""
        self._count = 0
        self._resources: dict[int, Resource] = {}
        self._resource_ids: dict[tuple[tuple[str, str], ...], int] = {}
        self._next_id = 0
        self._run_names: dict[str, str] = {}
        self._ended: dict[tuple[str, str], float] = {}
        self._refusing = False
        self._conflicts: set[str] = set()
        self._last_sweep = clock()
        self.refused = 0
        """Updates refused by the cardinality bound since start."""

    def __len__(self) -> int:
        return self._count

    def resource_id(self, key: tuple[tuple[str, str], ...], make: Callable[[], Resource]) -> int:
        """The id of the resource with attributes ``key``, made with ``make()`` when new."""
        found = self._resource_ids.get(key)
        if found is not None and found in self._resources:
            return found
        info = make()
        with self._lock:
            self._next_id += 1
            self._resource_ids[key] = self._next_id
            self._resources[self._next_id] = info
            return self._next_id

    def resource_info(self, resource_id: int) -> Resource | None:
        """The resource of an id (None once it expired)."""
        return self._resources.get(resource_id)

    def update(
        self,
        family: Family,
        resource: int,
        labels: dict[str, str],
        value: Value,
        *,
        time_ns: int,
        created: float | None = None,
        delta: bool = False,
    ) -> bool:
        """Set (or, with ``delta``, add to) a series; False if refused."""
        key = (family.name, resource, tuple(labels.items()))
        now = self._clock()
        with self._lock:
            known = self._families.setdefault(family.name, family)
            if known.kind != family.kind:
                self._conflict(family, known)
                return False
            series = self._series.get(family.name) or {}
            old = series.get(key)
            if old is None:
                if self._count >= self.max_series:
                    self._refuse(family.name, labels)
                    return False
                self._count += 1
                self._series[family.name] = series
            elif delta:
                value = _accumulate(old.value, value)
                created = old.created if old.created is not None else created
                time_ns = max(time_ns, old.time_ns)
            elif time_ns < old.time_ns:
                return True  # an older point arriving late: the latest value stays
            series[key] = Entry(value, labels, created, time_ns, now, resource)
        return True

    def _refuse(self, name: str, labels: dict[str, str]) -> None:
        self.refused += 1
        self._on_refused(1)
        if not self._refusing:
            self._refusing = True
            logger.warning(
                "prometheus: %d series reached (max_series); refusing new series until some"
                " expire, first refused: %s%s. Raise max_series, or drop high-cardinality"
                " attributes with the attributes processor; the refusals are counted in"
                " otelcol_exporter_prometheus_refused_series_total",
                self.max_series,
                name,
                labels,
            )

    def _conflict(self, family: Family, known: Family) -> None:
        if family.name not in self._conflicts:
            self._conflicts.add(family.name)
            logger.warning(
                "prometheus: metric %s arrives as a %s but is already a %s; its %s points are"
                " not exported (rename one of the metrics)",
                family.name,
                family.kind,
                known.kind,
                family.kind,
            )

    def run_named(self, run_id: str, name: str) -> None:
        """A run's name (from ``ml.run.start`` or ``ml.run.rename``)."""
        with self._lock:
            self._run_names[run_id] = name

    def run_started(self, run_id: str, rank: str) -> None:
        """A (resumed) run rank is live again: forget an earlier end."""
        with self._lock:
            self._ended.pop((run_id, rank), None)

    def run_ended(self, run_id: str, rank: str) -> None:
        """A run rank ended: its series expire ``expiration_s`` from now."""
        with self._lock:
            self._ended[(run_id, rank)] = self._clock()

    def sweep(self, *, every_s: float = 0.0) -> None:
        """Drop expired series, and resources and runs left without any."""
        now = self._clock()
        if now - self._last_sweep < every_s:
            return
        with self._lock:
            self._last_sweep = now
            limit = now - self.expiration_s
            gone_runs = {key for key, at in self._ended.items() if at <= limit}
            expired = [
                key
                for series in self._series.values()
                for key, entry in series.items()
                if entry.touched <= limit or self._run_gone(entry.resource, gone_runs)
            ]
            for key in expired:
                series = self._series[key[0]]
                del series[key]
                if not series:
                    del self._series[key[0]]
            self._count -= len(expired)
            if expired:
                self._drop_unused(gone_runs)
            if self._refusing and self._count < self.max_series:
                self._refusing = False

    def _run_gone(self, resource: int, gone_runs: set[tuple[str, str]]) -> bool:
        if not gone_runs:
            return False
        info = self._resources.get(resource)
        return info is not None and (info.run_id, info.rank) in gone_runs

    def _drop_unused(self, gone_runs: set[tuple[str, str]]) -> None:
        used = {entry.resource for series in self._series.values() for entry in series.values()}
        for resource_id in [r for r in self._resources if r not in used]:
            del self._resources[resource_id]
        for key in [k for k, r in self._resource_ids.items() if r not in self._resources]:
            del self._resource_ids[key]
        live_runs = {info.run_id for info in self._resources.values()}
        for run_key in gone_runs:
            del self._ended[run_key]
            if run_key[0] not in live_runs:
                self._run_names.pop(run_key[0], None)
        for name in [name for name in self._families if name not in self._series]:
            del self._families[name]

    def snapshot(self) -> Snapshot:
        """Copies of the families, series, resources and run names, for one scrape."""
        self.sweep(every_s=1.0)  # a sweep walks every series: at most once a second
        with self._lock:
            return Snapshot(
                dict(self._families),
                {name: dict(series) for name, series in self._series.items()},
                dict(self._resources),
                dict(self._run_names),
                self._count,
            )


def _accumulate(old: Value, new: Value) -> Value:
    """A delta added to the running total; a histogram whose buckets changed starts over."""
    if isinstance(old, float) and isinstance(new, float):
        return old + new
    if isinstance(old, Histogram) and isinstance(new, Histogram) and old.bounds == new.bounds:
        counts = tuple(a + b for a, b in zip(old.counts, new.counts, strict=True))
        total = None if old.sum is None or new.sum is None else old.sum + new.sum
        return Histogram(old.bounds, counts, old.count + new.count, total)
    return new
