"""The fake Discord's rate-limit buckets and the headers that state them (REFERENCE.md §2)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

__all__ = ["Bucket", "rate_headers", "too_many"]


@dataclass
class Bucket:
    """``limit`` requests per window; the window opens with its first request."""

    window_reset: float = 0.0
    remaining: int = 0
    name: str = ""


def rate_headers(bucket: Bucket, limit: int, now: float) -> dict[str, str]:
    """The ``X-RateLimit-*`` headers of an answer from ``bucket`` at ``now``."""
    reset_after = max(0.0, bucket.window_reset - now)
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, bucket.remaining)),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket.name,
    }


def too_many(
    bucket: Bucket, limit: int, now: float, retry_after: float, *, is_global: bool
) -> tuple[dict[str, str], dict[str, object]]:
    """Headers and body of a 429: ``Retry-After``, ``X-RateLimit-Scope`` (and ``-Global``),
    ``{"message", "retry_after", "global"}``."""
    headers = rate_headers(bucket, limit, now)
    headers["Retry-After"] = str(math.ceil(retry_after))
    headers["X-RateLimit-Scope"] = "global" if is_global else "user"
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    body = {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": is_global,
    }
    return headers, body
