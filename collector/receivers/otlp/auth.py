"""Bearer-token checks shared by both protocols (RFC 6750), in constant time."""

from __future__ import annotations

import hmac

__all__ = ["bearer_matches"]


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``authorization`` value is ``Bearer <token>``; the scheme is case-insensitive."""
    if not authorization:
        return False
    scheme, _, given = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Compare bytes: compare_digest refuses non-ASCII str, and a sender controls this text.
    return hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8")
    )
