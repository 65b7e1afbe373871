"""Receivers: where telemetry enters the collector."""

from __future__ import annotations

__all__: list[str] = []
