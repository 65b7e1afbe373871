"""The bytes of a scrape: Prometheus text or OpenMetrics, as prometheus-client writes them.

prometheus-client's ``generate_latest`` formats and escapes every label of every
sample at every scrape: about 19 µs a sample with a run's eight labels, so 10,000
series took ~190 ms. A series' labels change far less often than its value, so
this writer keeps each series' formatted label string between scrapes and writes
only the values anew. The output is byte-for-byte what prometheus-client's
exposition makes of :class:`~trainwire.exporters.prometheus.render.StoreCollector`
(a test holds the two equal), and the format is still negotiated by
prometheus-client's ``choose_encoder``. Label names need no escaping: every one is
a valid legacy name by construction (sanitized attributes, validated const labels).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from prometheus_client.utils import floatToGoString

from trainwire.exporters.prometheus.render import run_labels
from trainwire.exporters.prometheus.series import (
    Entry,
    Family,
    Histogram,
    Resource,
    SeriesStore,
    Summary,
)

__all__ = ["Exposition"]

_go_slow: Callable[[float], str] = floatToGoString
_INF = float("inf")


def _go(value: float) -> str:
    """``floatToGoString``: ``repr`` but for ±Inf, NaN and exponents from 1e6 up (Go's style)."""
    return repr(value) if -_INF < value < 1e6 else _go_slow(value)


_SeriesKey = tuple[object, ...]


def _value(text: str) -> str:
    if "\\" in text or "\n" in text or '"' in text:
        return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return text


def _labelstr(labels: dict[str, str]) -> str:
    """``{k="v",...}`` sorted by name, or "" without labels."""
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_value(v)}"' for k, v in sorted(labels.items())) + "}"


class Exposition:
    """Renders a :class:`SeriesStore`; safe to call from several scrape threads at once."""

    def __init__(self, store: SeriesStore) -> None:
        self.store = store
        self._cache: dict[_SeriesKey, str] = {}
        self._lock = threading.Lock()

    def render(self, *, openmetrics: bool) -> bytes:
        """One scrape in OpenMetrics 1.0.0, or the Prometheus text format 0.0.4."""
        snap = self.store.snapshot()
        runs = {rid: run_labels(info, snap.run_names) for rid, info in snap.resources.items()}
        old = self._cache
        new: dict[_SeriesKey, str] = {}
        by_family: dict[str, list[tuple[_SeriesKey, Entry]]] = {}
        for key, entry in snap.series:
            by_family.setdefault(key[0], []).append((key, entry))
        out: list[str] = []
        for name in sorted(by_family):
            family = snap.families.get(name)
            if family is None:
                continue
            kind = family.kind
            lines: list[str] = []
            created: list[str] = []
            for series_key, entry in by_family[name]:
                run = runs.get(entry.resource)
                cache_key: _SeriesKey = (series_key, run["run_name"]) if run else series_key
                labelstr = new.get(cache_key) or old.get(cache_key)
                if labelstr is None:
                    labelstr = _labelstr({**run, **entry.labels} if run else entry.labels)
                new[cache_key] = labelstr
                value = entry.value
                if kind == "gauge" and isinstance(value, float):  # most series: inlined
                    lines.append(f"{name}{labelstr} {_go(value)}\n")
                else:
                    _series(lines, created, family, entry, run, labelstr, old, new, openmetrics)
            _header(out, family, openmetrics)
            out.extend(lines)
            if created and not openmetrics:  # the text format has no _created: a gauge of its own
                out.append(f"# HELP {name}_created {_help(family.help, openmetrics)}\n")
                out.append(f"# TYPE {name}_created gauge\n")
                out.extend(created)
        _target_info(out, snap.resources, openmetrics)
        if openmetrics:
            out.append("# EOF\n")
        with self._lock:
            self._cache = new  # series gone since the last scrape leave the cache here
        return "".join(out).encode("utf-8")


def _help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", r"\\").replace("\n", r"\n")
    return text.replace('"', r"\"") if openmetrics else text


def _header(out: list[str], family: Family, openmetrics: bool) -> None:
    name, kind = family.name, family.kind
    if not openmetrics and kind == "counter":
        name += "_total"
    out.append(f"# HELP {name} {_help(family.help, openmetrics)}\n")
    out.append(f"# TYPE {name} {kind}\n")
    if openmetrics and family.unit:
        out.append(f"# UNIT {name} {family.unit}\n")


def _series(
    lines: list[str],
    created: list[str],
    family: Family,
    entry: Entry,
    run: dict[str, str] | None,
    labelstr: str,
    old: dict[_SeriesKey, str],
    new: dict[_SeriesKey, str],
    openmetrics: bool,
) -> None:
    name, value = family.name, entry.value
    stamp = created if not openmetrics else lines
    if isinstance(value, float):
        if family.kind == "counter":
            lines.append(f"{name}_total{labelstr} {_go(value)}\n")
            if entry.created is not None:
                stamp.append(f"{name}_created{labelstr} {_go(entry.created)}\n")
        else:
            lines.append(f"{name}{labelstr} {_go(value)}\n")
        return
    labels = {**run, **entry.labels} if run else entry.labels
    if isinstance(value, Histogram):
        cumulative = 0
        for bound, count in zip(value.bounds, value.counts, strict=False):
            cumulative += count
            le = _go(bound)
            key = (labelstr, le)
            bucket = new.get(key) or old.get(key) or _labelstr({**labels, "le": le})
            new[key] = bucket
            lines.append(f"{name}_bucket{bucket} {_go(float(cumulative))}\n")
        inf = ("+Inf", labelstr)
        bucket = new.get(inf) or old.get(inf) or _labelstr({**labels, "le": "+Inf"})
        new[inf] = bucket
        lines.append(f"{name}_bucket{bucket} {_go(float(value.count))}\n")
        lines.append(f"{name}_count{labelstr} {_go(float(value.count))}\n")
        if value.sum is not None:
            lines.append(f"{name}_sum{labelstr} {_go(value.sum)}\n")
        if entry.created is not None:
            stamp.append(f"{name}_created{labelstr} {_go(entry.created)}\n")
    elif isinstance(value, Summary):
        for quantile, q_value in value.quantiles:
            quantile_labels = _labelstr({**labels, "quantile": _go(quantile)})
            lines.append(f"{name}{quantile_labels} {_go(q_value)}\n")
        lines.append(f"{name}_count{labelstr} {_go(float(value.count))}\n")
        lines.append(f"{name}_sum{labelstr} {_go(value.sum)}\n")


def _target_info(out: list[str], resources: dict[int, Resource], openmetrics: bool) -> None:
    lines = []
    for rid in sorted(resources):
        labels = resources[rid].target_labels
        if labels.keys() - {"job", "instance"}:
            lines.append(f"target_info{_labelstr(labels)} 1.0\n")
    if lines:
        if openmetrics:
            out.append("# HELP target Target metadata\n# TYPE target info\n")
        else:
            out.append("# HELP target_info Target metadata\n# TYPE target_info gauge\n")
        out.extend(lines)
