"""Environment variables trainwire reads, declared once as typed descriptors.

Precedence everywhere: explicit argument, then environment, then default. A
variable set to a value of the wrong shape raises :class:`ConfigError`; it never
silently falls back to the default.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

from trainwire.errors import ConfigError

__all__ = [
    "DB_PATH",
    "ENDPOINT",
    "HEARTBEAT_INTERVAL",
    "OTEL_HEADERS",
    "TOKEN",
    "request_headers",
    "RUNS_DIR",
    "SYSTEM_METRICS_INTERVAL",
    "OTEL_ENDPOINT",
    "EnvVar",
    "resolve_endpoint",
]

T = TypeVar("T")


@dataclass(frozen=True)
class EnvVar(Generic[T]):
    """One environment variable: its name, how to parse it, and its default."""

    name: str
    parse: Callable[[str], T]
    default: T
    accepts: str
    """Human description of valid values, used in error messages."""

    def get(self) -> T:
        """Return the parsed value, or the default when unset or empty."""
        raw = os.environ.get(self.name, "").strip()
        if not raw:
            return self.default
        try:
            return self.parse(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"environment variable {self.name}={raw!r} is invalid: expected {self.accepts}"
                f" ({exc}); fix or unset it"
            ) from None


def _parse_endpoint(raw: str) -> str:
    if any(c.isspace() for c in raw):
        raise ValueError("contains white space")
    return raw


ENDPOINT: EnvVar[str | None] = EnvVar(
    "TRAINWIRE_ENDPOINT", _parse_endpoint, None, "host:port or http(s)://host:port"
)
OTEL_ENDPOINT: EnvVar[str | None] = EnvVar(
    "OTEL_EXPORTER_OTLP_ENDPOINT", _parse_endpoint, None, "http(s)://host:port"
)
DB_PATH: EnvVar[str] = EnvVar("TRAINWIRE_DB", str, "trainwire.db", "a file path")
RUNS_DIR: EnvVar[str] = EnvVar("TRAINWIRE_DIR", str, "trainwire-runs", "a directory path")
"""Where each run keeps its local directory (spool, metadata) until it is delivered."""


def _positive_seconds(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be more than 0")
    return value


SYSTEM_METRICS_INTERVAL: EnvVar[float] = EnvVar(
    "TRAINWIRE_SYSTEM_METRICS_INTERVAL", _positive_seconds, 10.0, "seconds, more than 0"
)
HEARTBEAT_INTERVAL: EnvVar[float] = EnvVar(
    "TRAINWIRE_HEARTBEAT_INTERVAL", _positive_seconds, 10.0, "seconds, more than 0 (e.g. 10)"
)


def resolve_endpoint(argument: str | None) -> str | None:
    """Return the collector endpoint to use, or ``None`` for the embedded default.

    ``TRAINWIRE_ENDPOINT`` wins over ``OTEL_EXPORTER_OTLP_ENDPOINT``, which
    clusters often set for tracing.
    """
    if argument:
        return _parse_endpoint(argument)
    return ENDPOINT.get() or OTEL_ENDPOINT.get()


def _parse_headers(raw: str) -> dict[str, str]:
    headers = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item.strip()!r} is not key=value")
        headers[unquote(key.strip())] = unquote(value.strip())
    return headers


OTEL_HEADERS: EnvVar[dict[str, str]] = EnvVar(
    "OTEL_EXPORTER_OTLP_HEADERS", _parse_headers, {}, "key=value pairs separated by commas"
)
TOKEN: EnvVar[str | None] = EnvVar(
    "TRAINWIRE_TOKEN", _parse_endpoint, None, "a bearer token without spaces"
)


def request_headers() -> dict[str, str]:
    """Headers every request to a collector carries: ``OTEL_EXPORTER_OTLP_HEADERS``, and
    ``authorization: Bearer $TRAINWIRE_TOKEN`` when that is set (it wins)."""
    headers = {k.lower(): v for k, v in OTEL_HEADERS.get().items()}
    token = TOKEN.get()
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers
