"""Turn a bag of values into the explicit-bucket counts of an OTLP Histogram point."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from trainwire.errors import InvalidValueError

__all__ = ["bucketize"]


def _flatten(values: Any) -> list[float]:
    if hasattr(values, "tolist"):  # numpy arrays, torch tensors (after .cpu())
        values = values.tolist()
    out: list[float] = []
    stack: list[Any] = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            out.append(float(item))
    return out


def bucketize(
    key: str, values: Iterable[Any] | Any, bins: int
) -> tuple[list[float], list[int], float, float, float]:
    """Return ``(bounds, counts, sum, min, max)`` of ``values`` in ``bins`` equal-width buckets."""
    if not isinstance(bins, int) or bins < 1:
        raise InvalidValueError(f"histogram '{key}': bins must be a whole number of at least 1")
    try:
        data = _flatten(values)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"histogram '{key}': values must be numbers ({exc})") from None
    if not data:
        raise InvalidValueError(f"histogram '{key}': no values")
    if not all(math.isfinite(v) for v in data):
        raise InvalidValueError(f"histogram '{key}': values must be finite (found NaN or inf)")
    low, high = min(data), max(data)
    if low == high or bins == 1:
        return [], [len(data)], math.fsum(data), low, high
    width = (high - low) / bins
    bounds = [low + width * i for i in range(1, bins)]
    counts = [0] * bins
    for value in data:
        # Bucket i holds (bounds[i-1], bounds[i]]; OTLP's upper bounds are inclusive.
        index = min(bins - 1, max(0, math.ceil((value - low) / width) - 1))
        counts[index] += 1
    return bounds, counts, math.fsum(data), low, high
