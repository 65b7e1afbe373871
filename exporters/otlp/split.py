"""Split an OTLP request that is too large for one message into several that fit.

The queue merges many small requests into one send; a receiver refuses a message
over its limit (gRPC's default is 4 MiB) as a permanent error, which would drop
the lot. So a request over the limit is halved — by resource, then scope, then
record — until each part fits or is one record that cannot be split further.
"""

from __future__ import annotations

from typing import Any

from trainwire.collector.component import Signal

__all__ = ["split_request"]

_FIELDS = {
    Signal.METRICS: ("resource_metrics", "scope_metrics", "metrics"),
    Signal.LOGS: ("resource_logs", "scope_logs", "log_records"),
    Signal.TRACES: ("resource_spans", "scope_spans", "spans"),
}


def split_request(signal: Signal, request: Any, max_bytes: int) -> list[Any]:
    """Parts of ``request``, in order, each at most ``max_bytes`` where that is possible."""
    if request.ByteSize() <= max_bytes:
        return [request]
    halves = _halve(signal, request)
    if halves is None:
        return [request]
    return [part for half in halves for part in split_request(signal, half, max_bytes)]


def _halve(signal: Signal, request: Any) -> tuple[Any, Any] | None:
    resource_field, scope_field, item_field = _FIELDS[signal]
    resources = getattr(request, resource_field)
    if len(resources) > 1:
        return _split_list(request, resource_field)
    if not resources:
        return None
    scopes = getattr(resources[0], scope_field)
    if len(scopes) > 1:
        first, second = type(request)(), type(request)()
        for target, keep in (
            (first, slice(None, len(scopes) // 2)),
            (second, slice(len(scopes) // 2, None)),
        ):
            resource = getattr(target, resource_field).add()
            resource.CopyFrom(resources[0])
            del getattr(resource, scope_field)[:]
            getattr(resource, scope_field).extend(scopes[keep])
        return first, second
    if not scopes or len(getattr(scopes[0], item_field)) < 2:
        return None
    items = getattr(scopes[0], item_field)
    first, second = type(request)(), type(request)()
    for target, keep in (
        (first, slice(None, len(items) // 2)),
        (second, slice(len(items) // 2, None)),
    ):
        target.CopyFrom(request)
        scope = getattr(getattr(target, resource_field)[0], scope_field)[0]
        del getattr(scope, item_field)[:]
        getattr(scope, item_field).extend(items[keep])
    return first, second


def _split_list(request: Any, field: str) -> tuple[Any, Any]:
    entries = getattr(request, field)
    middle = len(entries) // 2
    first, second = type(request)(), type(request)()
    getattr(first, field).extend(entries[:middle])
    getattr(second, field).extend(entries[middle:])
    return first, second
