"""Config of the ``prometheus`` exporter, shaped like the OpenTelemetry Collector's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trainwire.collector.endpoint import parse_endpoint

__all__ = ["PrometheusExporterConfig"]

_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NAMESPACE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True)
class PrometheusExporterConfig:
    """Where ``/metrics`` listens and how series are named, bounded and expired."""

    endpoint: str = "localhost:9464"
    """``host:port`` Prometheus scrapes; ``0.0.0.0:9464`` in a pod. Port 0 picks a free port."""
    namespace: str = ""
    """Prefix of every metric name (``<namespace>_``); empty: none."""
    const_labels: dict[str, str] = field(default_factory=dict)
    """Labels added to every series, e.g. ``{cluster: a100-pool}``."""
    metric_expiration_s: float = 300.0
    """A series disappears this long after its last update, or after its run's ``ml.run.end``."""
    max_series: int = 50_000
    """New series past this many are refused (logged once, counted); existing ones update."""
    add_metric_suffixes: bool = True
    """Unit words as name suffixes; off: names are only sanitized (counters still end in
    ``_total``, which OpenMetrics requires of them)."""
    resource_to_labels: list[str] = field(default_factory=lambda: ["host.name"])
    """Resource attributes copied onto every series as labels (all of them are on target_info)."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        try:
            parse_endpoint(self.endpoint)
        except ValueError as exc:
            problems.append(f"endpoint: {exc}")
        if self.namespace and not _NAMESPACE.fullmatch(self.namespace):
            problems.append(
                f"namespace: '{self.namespace}' is not a metric name prefix; use letters,"
                " digits and '_' (not first a digit), e.g. trainwire"
            )
        for name, value in self.const_labels.items():
            if not isinstance(name, str) or not _LABEL.fullmatch(name) or name.startswith("__"):
                problems.append(
                    f"const_labels::{name}: not a Prometheus label name; use letters, digits"
                    " and '_', not first a digit nor '__'"
                )
            elif not isinstance(value, str):
                problems.append(f"const_labels::{name}: expected a string value")
        if self.metric_expiration_s <= 0:
            problems.append(
                "metric_expiration_s: must be more than 0 (seconds a series outlives"
                " its last update), e.g. 300"
            )
        if self.max_series < 1:
            problems.append("max_series: must be at least 1, e.g. 50000")
        for key in self.resource_to_labels:
            if not isinstance(key, str) or not key.strip():
                problems.append(
                    f"resource_to_labels: {key!r} is not a resource attribute key, e.g. host.name"
                )
        return problems
