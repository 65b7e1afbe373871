"""OpenTelemetry → Prometheus names, after the specification's compatibility rules.

https://github.com/open-telemetry/opentelemetry-specification/blob/main/specification/compatibility/prometheus_and_openmetrics.md
Invalid characters become ``_`` (repeats collapsed); the unit, spelled in words,
becomes a suffix unless the name already holds it (``_ratio`` for unit ``1``
gauges only, as the Collector's translator does); counters end in ``_total``.
"""

from __future__ import annotations

import re

__all__ = ["label_name", "metric_name", "unit_words"]

_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]+")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]+")
_REPEATS = re.compile(r"__+")
_ANNOTATION = re.compile(r"\{[^}]*\}")

# UCUM units (as OpenTelemetry semantic conventions write them) → words.
_UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "bit": "bits",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "MHz": "megahertz",
    "%": "percent",
}
# The denominator of ``x/y`` is singular: ``By/s`` → ``bytes_per_second``.
_PER_UNITS = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}


def _sanitize(text: str, invalid: re.Pattern[str]) -> str:
    return _REPEATS.sub("_", invalid.sub("_", text))


def label_name(key: str) -> str:
    """An attribute key as a Prometheus label name (``k8s.pod.uid`` → ``k8s_pod_uid``).

    A leading digit gets ``key_`` in front and a leading ``__`` (reserved by
    Prometheus) gets ``key``, as the Collector's translator does.
    """
    name = _INVALID_LABEL.sub("_", key)
    if not name:
        return "key_"
    if name[0].isdigit():
        return "key_" + name
    if name.startswith("__"):
        return "key" + name
    return name


def unit_words(unit: str, *, gauge: bool) -> str:
    """The unit as a name suffix: ``By/s`` → ``bytes_per_second``, ``1`` → ``ratio`` (gauges).

    Annotations in braces (``{packet}``) name what is counted, not a unit, and are dropped.
    """
    unit = _ANNOTATION.sub("", unit).strip()
    if unit == "1":
        return "ratio" if gauge else ""
    main, slash, per = unit.partition("/")
    words = _sanitize(_UNITS.get(main, main), _INVALID_LABEL).strip("_") if main else ""
    if slash and per:
        per_word = _sanitize(_PER_UNITS.get(per, _UNITS.get(per, per)), _INVALID_LABEL)
        per_word = per_word.strip("_")
        if per_word:
            words = f"{words}_per_{per_word}" if words else f"per_{per_word}"
    return words


def metric_name(
    name: str,
    unit: str,
    *,
    gauge: bool,
    counter: bool,
    suffixes: bool = True,
    namespace: str = "",
) -> str:
    """A metric's Prometheus family name, without the ``_total`` prometheus-client adds.

    Args:
        gauge: an OTLP Gauge (only those get ``_ratio`` for unit ``1``).
        counter: a monotonic sum; a ``total`` word is moved to the end, after the unit.
        suffixes: add unit words; off, the name is only sanitized.
        namespace: prefix (``<namespace>_``), as the Collector's ``namespace`` setting.
    """
    full = f"{namespace}_{name}" if namespace else name
    base = _sanitize(full, _INVALID_NAME)
    if base[:1].isdigit():
        base = "_" + base
    if not suffixes:
        return base.removesuffix("_total") if counter else base
    tokens = [token for token in base.split("_") if token] or ["_"]
    lead = "_" if base.startswith("_") and tokens != ["_"] else ""
    if counter:
        tokens = [token for token in tokens if token != "total"] or ["total"]
    words = unit_words(unit, gauge=gauge)
    if words:
        main, _, per = words.partition("_per_")
        if main and main not in tokens:
            tokens.append(main)
        if per and f"per_{per}" not in "_".join(tokens):
            tokens.extend(["per", per])
    return lead + "_".join(tokens)
