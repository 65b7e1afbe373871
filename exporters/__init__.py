"""Exporters: where telemetry leaves the collector, one subpackage per destination."""

from __future__ import annotations

__all__: list[str] = []
