"""Convert between Python values and OTLP ``AnyValue`` / attribute lists.

Shared by the SDK (encoding) and the exporters (decoding), so both sides of the
wire agree on how a nested config, a list or bytes travel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = ["attributes_to_dict", "from_any_value", "set_any_value", "to_attributes"]

_MAX_DEPTH = 32


def set_any_value(target: AnyValue, value: Any, _depth: int = 0) -> None:
    """Fill ``target`` from a Python value; unknown types travel as their ``str()``."""
    if _depth > _MAX_DEPTH:
        raise ValueError("value is nested too deeply (more than 32 levels)")
    if value is None:
        return  # an empty AnyValue is OTLP's null
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, (bytes, bytearray)):
        target.bytes_value = bytes(value)
    elif isinstance(value, Mapping):
        kvlist = target.kvlist_value
        kvlist.SetInParent()
        for key, item in value.items():
            kv = kvlist.values.add(key=str(key))
            set_any_value(kv.value, item, _depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        array = target.array_value
        array.SetInParent()
        for item in value:
            set_any_value(array.values.add(), item, _depth + 1)
    else:
        scalar = _as_scalar(value)
        if scalar is not None:
            set_any_value(target, scalar, _depth + 1)
        else:
            target.string_value = str(value)


def _as_scalar(value: Any) -> int | float | bool | None:
    """Unwrap numpy/torch scalars (anything with ``.item()`` giving a Python number)."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            result = item()
        except (TypeError, ValueError, RuntimeError):
            return None
        if isinstance(result, (int, float, bool)):
            return result
    return None


def from_any_value(value: AnyValue) -> Any:
    """Return the Python value of an ``AnyValue`` (maps become dicts, arrays lists)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return {kv.key: from_any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [from_any_value(v) for v in value.array_value.values]
    return getattr(value, kind)


def to_attributes(values: Mapping[str, Any]) -> list[KeyValue]:
    """Return OTLP attributes for a mapping of keys to values."""
    result = []
    for key, item in values.items():
        kv = KeyValue(key=key)
        set_any_value(kv.value, item)
        result.append(kv)
    return result


def attributes_to_dict(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    """Return a dict of OTLP attributes; with duplicate keys the last one wins."""
    return {kv.key: from_any_value(kv.value) for kv in attributes}
