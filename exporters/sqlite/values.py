"""JSON-ready values: non-finite floats as strings, times as ISO 8601."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

__all__ = ["from_json_number", "iso_time", "json_number", "jsonable", "loads"]

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def json_number(value: float | int | None) -> float | int | str | None:
    """``value`` as JSON can carry it: NaN, +inf and -inf become "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return value


def from_json_number(value: Any) -> Any:
    """The inverse of :func:`json_number`: "NaN", "Infinity", "-Infinity" become floats."""
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    return value


def jsonable(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth) replaced by its JSON string."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def iso_time(ns: int | None) -> str | None:
    """``ns`` since the epoch as ISO 8601 UTC, e.g. ``2026-01-02T03:04:05.000006Z``."""
    if ns is None or ns <= 0:
        return None
    try:
        moment = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def loads(text: str | None) -> Any:
    """A stored JSON column's value (None for NULL; text that is not JSON as it is)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
