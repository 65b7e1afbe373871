"""Connectors: components that consume one pipeline's data and feed another pipeline."""

from __future__ import annotations

__all__: list[str] = []
