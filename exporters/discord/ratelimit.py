"""Discord rate limits as the server states them: per-webhook buckets and the global limit.

Discord says not to hard-code limits but to read them (REFERENCE.md §2,
https://github.com/discord/discord-api-docs/blob/main/docs/topics/rate-limits.md):
each answer carries ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset-After``; when
nothing remains we wait for the reset before sending again. A 429 carries
``retry_after`` (seconds, in the JSON body; ``Retry-After`` header as a fallback) and
``global``; we wait that long for the bucket, or for every bucket when global.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["RateLimiter", "retry_after_of"]

_MARGIN_S = 0.05
"""Waits end a little after the server's reset, so clock granularity never makes us early."""


@dataclass
class _Bucket:
    remaining: int | None = None
    reset_at: float = 0.0
    name: str = ""


class RateLimiter:
    """Tells how long to wait before the next request to a bucket."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._global_until = 0.0
        self.waited_s = 0.0
        """Total time spent waiting for limits (for telemetry and tests)."""

    def delay(self, key: str) -> float:
        """Seconds to wait before a request to ``key`` may go out (0: now)."""
        now = self._clock()
        wait = max(0.0, self._global_until - now)
        bucket = self._buckets.get(key)
        if bucket is not None and bucket.remaining == 0 and bucket.reset_at > now:
            wait = max(wait, bucket.reset_at - now)
        return wait

    async def wait(self, key: str) -> None:
        """Sleep until a request to ``key`` may go out."""
        while (delay := self.delay(key)) > 0:
            self.waited_s += delay
            await asyncio.sleep(delay)

    def has_room(self, key: str, keep: int = 1) -> bool:
        """Whether more than ``keep`` requests remain in the bucket now (for optional posts)."""
        if self.delay(key) > 0:
            return False
        bucket = self._buckets.get(key)
        if bucket is None or bucket.remaining is None or bucket.reset_at <= self._clock():
            return True
        return bucket.remaining > keep

    def update(self, key: str, status: int, headers: Mapping[str, str], body: bytes) -> float:
        """Learn from one answer; return the 429's retry-after (0 for any other status)."""
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket())
        remaining = _number(headers.get("x-ratelimit-remaining"))
        reset_after = _number(headers.get("x-ratelimit-reset-after"))
        if remaining is not None:
            bucket.remaining = int(remaining)
        if reset_after is not None:
            bucket.reset_at = now + reset_after + _MARGIN_S
        bucket.name = headers.get("x-ratelimit-bucket", bucket.name)
        if status != 429:
            return 0.0
        retry_after, is_global = retry_after_of(headers, body)
        until = now + retry_after + _MARGIN_S
        if is_global:
            self._global_until = max(self._global_until, until)
        else:
            bucket.remaining = 0
            bucket.reset_at = max(bucket.reset_at, until)
        return retry_after


def retry_after_of(headers: Mapping[str, str], body: bytes) -> tuple[float, bool]:
    """``(retry_after seconds, global)`` of a 429 answer."""
    retry_after: float | None = None
    is_global = headers.get("x-ratelimit-global", "").lower() == "true"
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    if isinstance(data, dict):
        retry_after = _number(data.get("retry_after"))
        is_global = is_global or data.get("global") is True
    if retry_after is None:
        retry_after = _number(headers.get("retry-after"))
    return (1.0 if retry_after is None else max(0.0, retry_after)), is_global


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None
