"""Bytes and points as the Client hands them out: artifacts checked by sha256, flat points."""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from trainwire.errors import CorruptArtifactError

__all__ = ["Progress", "points_of", "read_verified", "write_verified"]

Progress = Callable[[int, int | None], None]
"""``progress(done, total)`` in bytes; ``total`` is None when the size is unknown."""

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def read_verified(chunks: Iterable[bytes], expected: str | None, what: str) -> bytes:
    """Join ``chunks``; raise CorruptArtifactError unless they hash to ``expected`` (if given)."""
    hasher, parts = hashlib.sha256(), []
    for chunk in chunks:
        hasher.update(chunk)
        parts.append(chunk)
    _check(expected, hasher.hexdigest(), what)
    return b"".join(parts)


def write_verified(
    chunks: Iterable[bytes],
    target: Path,
    expected: str | None,
    what: str,
    *,
    size: int | None,
    progress: Progress | None,
) -> None:
    """Write ``chunks`` to ``target`` through a temporary file that replaces it only once
    the bytes hash to ``expected``, so ``target`` is never left half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    hasher, done = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if progress is not None:
                progress(0, size)
            for chunk in chunks:
                f.write(chunk)
                hasher.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, size)
        _check(expected, hasher.hexdigest(), what)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check(expected: str | None, got: str, what: str) -> None:
    if expected is not None and got != expected:
        raise CorruptArtifactError(
            f"{what}: the bytes received hash to {got}, not {expected}; download it again"
        )


def points_of(all_series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten series into one ``{key, step, time, value, source}`` dict a point.

    A series with attributes (one per GPU, say) is keyed ``name{attr=value,...}``.
    """
    points: list[dict[str, Any]] = []
    for series in all_series:
        key = series["key"]
        attributes = series.get("attributes") or {}
        if attributes:
            key += "{" + ",".join(f"{k}={v}" for k, v in sorted(attributes.items())) + "}"
        source = series.get("source", "logged")
        for step, time, value in zip(series["step"], series["time"], series["value"], strict=True):
            if isinstance(value, str):
                value = _NON_FINITE.get(value, value)
            points.append(
                {"key": key, "step": step, "time": time, "value": value, "source": source}
            )
    return points
