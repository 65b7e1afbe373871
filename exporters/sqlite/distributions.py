"""Flatten OTLP Histogram, ExponentialHistogram and Summary points into store rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from trainwire.exporters.sqlite.identity import canonical_json

__all__ = ["distribution_rows"]

Row = tuple[Any, int, float | None, float | None, float | None, str]


def distribution_rows(metric: Metric, kind: str) -> Iterator[Row]:
    """Yield ``(point, count, sum, min, max, data_json)`` for each point of a distribution."""
    if kind == "histogram":
        for p in metric.histogram.data_points:
            data = {
                "bounds": list(p.explicit_bounds),
                "counts": list(p.bucket_counts),
                "temporality": metric.histogram.aggregation_temporality,
            }
            yield p, p.count, _opt(p, "sum"), _opt(p, "min"), _opt(p, "max"), canonical_json(data)
    elif kind == "exponential_histogram":
        for e in metric.exponential_histogram.data_points:
            data = {
                "scale": e.scale,
                "zero_count": e.zero_count,
                "positive": {"offset": e.positive.offset, "counts": list(e.positive.bucket_counts)},
                "negative": {"offset": e.negative.offset, "counts": list(e.negative.bucket_counts)},
                "temporality": metric.exponential_histogram.aggregation_temporality,
            }
            yield e, e.count, _opt(e, "sum"), _opt(e, "min"), _opt(e, "max"), canonical_json(data)
    elif kind == "summary":
        for q in metric.summary.data_points:
            quantiles = {str(v.quantile): v.value for v in q.quantile_values}
            yield q, q.count, q.sum, None, None, canonical_json({"quantiles": quantiles})


def _opt(point: Any, field: str) -> float | None:
    return float(getattr(point, field)) if point.HasField(field) else None
