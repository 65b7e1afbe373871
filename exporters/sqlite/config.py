"""Config of the sqlite exporter (the run store)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SqliteExporterConfig"]


@dataclass(frozen=True)
class SqliteExporterConfig:
    """Where the run store lives."""

    path: str = "trainwire.db"
    """The SQLite file; created with its directory if missing."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        if not self.path or not str(self.path).strip():
            return ["path: required; give the SQLite file, e.g. ./trainwire.db"]
        return []
