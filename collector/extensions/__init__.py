"""Extensions: collector capabilities that are not in a pipeline (storage, health)."""

from __future__ import annotations

__all__: list[str] = []
