"""Config of the storage extension."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StorageConfig"]


@dataclass(frozen=True)
class StorageConfig:
    """Where components keep durable state: persistent queues and small key-value records."""

    directory: str = "./trainwire-data"
    """Created if missing. Give each collector its own (a sidecar: a volume of its pod)."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        if not self.directory.strip():
            return ["directory: required; e.g. ./trainwire-data or /var/lib/trainwire"]
        return []
