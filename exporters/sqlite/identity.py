"""Stable identities for resources, attribute sets and events (DESIGN.md: point identity)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "column_text", "digest"]


def canonical_json(value: Any) -> str:
    """Return JSON with sorted keys and no spaces; bytes and odd types become strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_fallback)


def column_text(value: Any) -> str | None:
    """Text for a TEXT column from a value of any OTLP type (maps and arrays as JSON)."""
    if value is None or isinstance(value, str):
        return value
    return canonical_json(value)


def digest(*parts: str | bytes) -> str:
    """Return a short, stable hex digest of ``parts``."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.hexdigest()


def _fallback(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
