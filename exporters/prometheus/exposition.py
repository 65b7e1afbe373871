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
    """``floatToGoString``: ``repr`` but for ±Inf, NaN and 1e6 up to 1e16 (Go's exponents).

    From 1e16 up ``repr`` writes an exponent too, spelled as Go does.
    """
    if -_INF < value < 1e6 or 1e16 <= value < _INF:
        return repr(value)
    return _go_slow(value)


_SeriesKey = tuple[object, ...]
_Extra = dict[_SeriesKey, tuple[tuple[float, ...], tuple[str, ...]]]


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
        self._labels: dict[_SeriesKey, str] = {}
        """Each series' ``{k="v",...}``, kept between scrapes."""
        self._extra: _Extra = {}
        """A histogram's bounds and its ``le`` label strings (a summary's quantiles)."""
        self._run_names: dict[str, str] = {}
        """The run names the cached strings were written with."""
        self._lock = threading.Lock()

    def render(self, *, openmetrics: bool) -> bytes:
        """One scrape in OpenMetrics 1.0.0, or the Prometheus text format 0.0.4."""
        snap = self.store.snapshot()
        with self._lock:
            if snap.run_names != self._run_names:  # a rename: every run's labels anew
                self._labels, self._extra = {}, {}
                self._run_names = snap.run_names
            labels_of, extra = self._labels, self._extra
        runs = {rid: run_labels(info, snap.run_names) for rid, info in snap.resources.items()}
        out: list[str] = []
        append = out.append
        cached = labels_of.get
        for name in sorted(snap.series):
            family = snap.families.get(name)
            if family is None:
                continue
            _header(out, family, openmetrics)
            created: list[str] = []
            plain = family.kind == "gauge"
            for key, entry in snap.series[name].items():
                labelstr = cached(key)
                if labelstr is None:
                    run = runs.get(entry.resource)
                    labelstr = _labelstr({**run, **entry.labels} if run else entry.labels)
                    labels_of[key] = labelstr
                value = entry.value
                if plain and type(value) is float and (-_INF < value < 1e6 or 1e16 <= value < _INF):
                    append(f"{name}{labelstr} {value!r}\n")
                else:
                    _series(out, created, family, key, entry, labelstr, extra, runs, openmetrics)
            if created:  # the text format has no _created: a gauge family of its own
                append(f"# HELP {name}_created {_help(family.help, openmetrics)}\n")
                append(f"# TYPE {name}_created gauge\n")
                out.extend(created)
        _target_info(out, snap.resources, openmetrics)
        if openmetrics:
            append("# EOF\n")
        if len(labels_of) > 2 * snap.live + 1024:  # drop what expired series left behind
            self._prune({key for series in snap.series.values() for key in series})
        return "".join(out).encode("utf-8")

    def _prune(self, live: set[_SeriesKey]) -> None:
        with self._lock:
            self._labels = {k: v for k, v in self._labels.items() if k in live}
            self._extra = {k: v for k, v in self._extra.items() if k in live}


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
    out: list[str],
    created: list[str],
    family: Family,
    key: _SeriesKey,
    entry: Entry,
    labelstr: str,
    extra: _Extra,
    runs: dict[int, dict[str, str]],
    openmetrics: bool,
) -> None:
    """The lines of a series other than a plain gauge below 1e6."""
    name, value = family.name, entry.value
    stamp = out if openmetrics else created
    if isinstance(value, float):
        if family.kind == "counter":
            out.append(f"{name}_total{labelstr} {_go(value)}\n")
            if entry.created is not None:
                stamp.append(f"{name}_created{labelstr} {_go(entry.created)}\n")
        else:
            out.append(f"{name}{labelstr} {_go(value)}\n")
        return
    if isinstance(value, Histogram):
        les = _with_extra(extra, key, value.bounds, "le", entry, runs)
        cumulative = 0
        for le, count in zip(les[:-1], value.counts, strict=False):
            cumulative += count
            out.append(f"{name}_bucket{le} {_go(float(cumulative))}\n")
        out.append(f"{name}_bucket{les[-1]} {_go(float(value.count))}\n")
        out.append(f"{name}_count{labelstr} {_go(float(value.count))}\n")
        if value.sum is not None:
            out.append(f"{name}_sum{labelstr} {_go(value.sum)}\n")
        if entry.created is not None:
            stamp.append(f"{name}_created{labelstr} {_go(entry.created)}\n")
    elif isinstance(value, Summary):
        qs = tuple(q for q, _ in value.quantiles)
        strings = _with_extra(extra, key, qs, "quantile", entry, runs)
        for (_, q_value), quantile in zip(value.quantiles, strings, strict=False):
            out.append(f"{name}{quantile} {_go(q_value)}\n")
        out.append(f"{name}_count{labelstr} {_go(float(value.count))}\n")
        out.append(f"{name}_sum{labelstr} {_go(value.sum)}\n")


def _with_extra(
    extra: _Extra,
    key: _SeriesKey,
    numbers: tuple[float, ...],
    label: str,
    entry: Entry,
    runs: dict[int, dict[str, str]],
) -> tuple[str, ...]:
    """The label strings of a series with ``label`` set to each number (then ``+Inf`` for le)."""
    found = extra.get(key)
    if found is not None and found[0] == numbers:
        return found[1]
    run = runs.get(entry.resource)
    labels = {**run, **entry.labels} if run else entry.labels
    texts = [_go(number) for number in numbers] + (["+Inf"] if label == "le" else [])
    strings = tuple(_labelstr({**labels, label: text}) for text in texts)
    extra[key] = (numbers, strings)
    return strings


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
