"""Check what users pass to ``log()``: keys are names, values are real numbers.

Floats and ints take a fast path; numpy and torch scalars (anything with
``__float__`` or ``__index__``, including one-element tensors) are converted.
Anything else gets an error naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trainwire import semconv
from trainwire.errors import InvalidValueError

__all__ = ["as_labels", "as_mapping", "as_step", "check_encodable", "check_metrics"]

_FAST = (float, int)
_FAST_VALUE_TYPES = frozenset(_FAST)
_STR_TYPE = frozenset({str})


def check_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Return a private copy of ``metrics`` with every value a float (or an int)."""
    # Fast path, in C: plain str keys and float/int values, nothing reserved.
    if (
        type(metrics) is dict
        and _FAST_VALUE_TYPES.issuperset(map(type, metrics.values()))
        and _STR_TYPE.issuperset(map(type, metrics))
        and "" not in metrics
        and semconv.METRIC_STEP not in metrics
    ):
        return dict(metrics)
    if not isinstance(metrics, Mapping):
        raise InvalidValueError(
            f"log() takes a dict of metric names to numbers, got {type(metrics).__name__}"
        )
    result: dict[str, float] = {}
    for key, value in metrics.items():
        if type(key) is not str or not key or key == semconv.METRIC_STEP:
            _bad_key(key)
        result[key] = float(value) if type(value) in _FAST else _convert(key, value)
    return result


def _convert(key: str, value: Any) -> float:
    if isinstance(value, (str, bytes)) or value is None:
        raise InvalidValueError(
            f"metric '{key}': {value!r} is not a number; log numbers (int, float, numpy or torch"
            " scalars), and put text in log_params() or set_tag()"
        )
    cls = type(value)
    if hasattr(cls, "__float__") or hasattr(cls, "__index__"):
        try:
            return float(value)
        except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
            raise InvalidValueError(
                f"metric '{key}': cannot turn {cls.__name__} into one number ({exc}); log a scalar"
                " (e.g. tensor.item() or a mean)"
            ) from None
    raise InvalidValueError(
        f"metric '{key}': {cls.__name__} is not a number; log int, float, or a numpy/torch scalar"
    )


def _bad_key(key: Any) -> None:
    if key == semconv.METRIC_STEP:
        raise InvalidValueError(
            f"metric name '{key}' is reserved for the step; pass step=... instead"
        )
    raise InvalidValueError(f"metric names must be non-empty strings, got {key!r}")


def as_step(step: Any) -> int:
    """Return ``step`` as a non-negative int, or raise naming the problem."""
    try:
        value = step.__index__()
    except (AttributeError, TypeError):
        raise InvalidValueError(f"step must be a whole number, got {step!r}") from None
    if value < 0:
        raise InvalidValueError(f"step must be 0 or more, got {value}")
    return int(value)


def check_encodable(what: str, value: Any) -> None:
    """Raise InvalidValueError if ``value`` cannot travel as an OTLP AnyValue (too deep)."""
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    from trainwire.anyvalue import set_any_value

    try:
        set_any_value(AnyValue(), value)
    except (ValueError, RecursionError) as exc:
        raise InvalidValueError(f"{what}: the value cannot be recorded ({exc})") from None


def as_mapping(what: str, value: Any) -> dict[str, Any]:
    """A private dict of ``value`` (a mapping, or an argparse Namespace and the like)."""
    if hasattr(value, "__dict__") and not isinstance(value, Mapping):
        value = vars(value)
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"{what} must be a dict, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def as_labels(labels: str | Sequence[str] | None) -> list[str]:
    """Labels given as one string or a list of them, each a non-empty string."""
    if labels is None:
        return []
    items = [labels] if isinstance(labels, str) else list(labels)
    for label in items:
        if not isinstance(label, str) or not label:
            raise InvalidValueError(f"tags must be non-empty strings, got {label!r}")
    return items
