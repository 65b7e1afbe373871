"""The bytes a request arrived as, so queues can store them without encoding them again.

A receiver that decoded ``request`` from ``raw`` runs the pipeline inside
``carrying(request, raw)``. Whoever needs the encoded form asks ``encoded(request)``:
the original bytes if it is still the very object the receiver decoded (no processor
replaced it), else a fresh serialization. Tasks started inside inherit it (contextvars).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["carrying", "encoded"]

_RAW: ContextVar[tuple[int, bytes] | None] = ContextVar("trainwire_raw_request", default=None)


@contextmanager
def carrying(request: Any, raw: bytes) -> Iterator[None]:
    """Within the block, ``encoded(request)`` returns ``raw``."""
    token = _RAW.set((id(request), raw))
    try:
        yield
    finally:
        _RAW.reset(token)


def encoded(request: Any) -> bytes:
    """The encoded form of ``request``: the bytes it arrived as, when they still apply."""
    raw = _RAW.get()
    if raw is not None and raw[0] == id(request):
        return raw[1]
    return bytes(request.SerializeToString())
