"""A prometheus-client collector: one scrape of the :class:`SeriesStore` as metric families.

prometheus-client's exposition code writes them as Prometheus text or OpenMetrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from trainwire.exporters.prometheus.series import (
    Entry,
    Family,
    Histogram,
    Resource,
    SeriesStore,
    Summary,
)

__all__ = ["StoreCollector", "run_labels"]

_INF = "+Inf"
_go_float: Callable[[float], str] = floatToGoString  # how Prometheus spells ``le`` values


class StoreCollector(Collector):
    """Yields every live family, then ``target_info`` (one sample per resource)."""

    def __init__(self, store: SeriesStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        """Families in name order; run labels first on each series."""
        snap = self.store.snapshot()
        runs = {rid: run_labels(info, snap.run_names) for rid, info in snap.resources.items()}
        for name in sorted(snap.series):
            family = snap.families.get(name)
            if family is not None:
                yield _metric(family, list(snap.series[name].values()), runs)
        if snap.resources:
            info = Metric("target", "Target metadata", "info")
            for rid in sorted(snap.resources):
                labels = snap.resources[rid].target_labels
                if labels.keys() - {"job", "instance"}:  # nothing to say beyond job/instance
                    info.samples.append(Sample("target_info", labels, 1.0))
            if info.samples:
                yield info


def run_labels(info: Resource, names: dict[str, str]) -> dict[str, str]:
    """``run_id``, ``run_name``, ``experiment``, ``rank`` of a run's resource ({} otherwise)."""
    if not info.run_id:
        return {}
    return {
        "run_id": info.run_id,
        "run_name": names.get(info.run_id) or info.run_name,
        "experiment": info.experiment,
        "rank": info.rank,
    }


def _metric(family: Family, entries: list[Entry], runs: dict[int, dict[str, str]]) -> Metric:
    metric = Metric(family.name, family.help, family.kind, family.unit)
    out = metric.samples
    name = family.name
    for entry in entries:
        run = runs.get(entry.resource)
        labels = {**run, **entry.labels} if run else entry.labels
        value = entry.value
        if isinstance(value, float):
            if family.kind == "counter":
                out.append(Sample(name + "_total", labels, value))
                if entry.created is not None:
                    out.append(Sample(name + "_created", labels, entry.created))
            else:
                out.append(Sample(name, labels, value))
        elif isinstance(value, Histogram):
            _histogram(out, name, labels, value, entry.created)
        elif isinstance(value, Summary):
            for quantile, q_value in value.quantiles:
                out.append(Sample(name, {**labels, "quantile": _go_float(quantile)}, q_value))
            out.append(Sample(name + "_count", labels, float(value.count)))
            out.append(Sample(name + "_sum", labels, value.sum))
    return metric


def _histogram(
    out: list[Sample], name: str, labels: dict[str, str], value: Histogram, created: float | None
) -> None:
    cumulative = 0
    bucket = name + "_bucket"
    for bound, count in zip(value.bounds, value.counts, strict=False):
        cumulative += count
        out.append(Sample(bucket, {**labels, "le": _go_float(bound)}, float(cumulative)))
    out.append(Sample(bucket, {**labels, "le": _INF}, float(value.count)))
    out.append(Sample(name + "_count", labels, float(value.count)))
    if value.sum is not None:
        out.append(Sample(name + "_sum", labels, value.sum))
    if created is not None:
        out.append(Sample(name + "_created", labels, created))
