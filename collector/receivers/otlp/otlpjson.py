"""Decode OTLP/JSON request bodies (OTLP spec, "JSON Protobuf Encoding").

OTLP/JSON is proto3 JSON with three differences, all honoured here: keys may be
lowerCamelCase or the original field names; unknown fields are ignored; and
``traceId``, ``spanId`` and ``parentSpanId`` are hex strings, not base64 as proto3
JSON would have them, so they are converted before ``json_format`` parses the
rest. Enum values may be names or integers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from trainwire.collector.component import Signal

__all__ = ["OtlpJsonError", "parse_json", "to_json"]

_IDS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")
_METRIC_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram")


class OtlpJsonError(ValueError):
    """The body is not an OTLP/JSON request of the expected signal."""


def parse_json(cls: type[Message], signal: Signal, body: bytes) -> Any:
    """Return the ``cls`` request that ``body`` encodes; raise OtlpJsonError saying why not."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise OtlpJsonError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise OtlpJsonError(f"body must be a JSON object, got {type(data).__name__}")
    for holder in _id_holders(signal, data):
        for key in _IDS:
            value = holder.get(key)
            if isinstance(value, str):
                holder[key] = _hex_to_base64(key, value)
    message = cls()
    try:
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError) as exc:
        raise OtlpJsonError(f"not a valid {cls.DESCRIPTOR.full_name}: {exc}") from None
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        # json_format lets some type mismatches through as plain Python errors.
        raise OtlpJsonError(f"not a valid {cls.DESCRIPTOR.full_name}: {exc!r}") from None
    return message


def to_json(message: Message) -> bytes:
    """Encode a response or status message as OTLP/JSON."""
    return json_format.MessageToJson(message, indent=None).encode()


def _hex_to_base64(key: str, value: str) -> str:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise OtlpJsonError(f"{key}: {value[:40]!r} is not a hex string") from None
    return base64.b64encode(raw).decode("ascii")


def _id_holders(signal: Signal, data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The objects of a request that may carry trace or span ids."""
    if signal is Signal.TRACES:
        resources = _children([data], "resourceSpans", "resource_spans")
        spans = list(_children(_children(resources, "scopeSpans", "scope_spans"), "spans"))
        yield from spans
        yield from _children(spans, "links")
    elif signal is Signal.LOGS:
        resources = _children([data], "resourceLogs", "resource_logs")
        yield from _children(
            _children(resources, "scopeLogs", "scope_logs"), "logRecords", "log_records"
        )
    else:
        resources = _children([data], "resourceMetrics", "resource_metrics")
        metrics = _children(_children(resources, "scopeMetrics", "scope_metrics"), "metrics")
        kinds = (v for m in metrics for k in _METRIC_KINDS if isinstance(v := m.get(k), dict))
        points = _children(kinds, "dataPoints", "data_points")
        yield from _children(points, "exemplars")


def _children(parents: Iterable[dict[str, Any]], *keys: str) -> Iterator[dict[str, Any]]:
    """The objects in the list fields ``keys`` of each parent; anything else is skipped."""
    for parent in parents:
        for key in keys:
            items = parent.get(key)
            if isinstance(items, list):
                yield from (item for item in items if isinstance(item, dict))
