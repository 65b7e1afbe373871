"""Config of the sqlite exporter (the run store)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trainwire.collector.exporterhelper import QueueConfig, RetryConfig

__all__ = ["SqliteExporterConfig"]


def _store_retry() -> RetryConfig:
    # The system of record never gives up: it retries until the disk or lock recovers.
    return RetryConfig(initial_interval_s=0.2, max_interval_s=5.0, max_elapsed_time_s=0.0)


@dataclass(frozen=True)
class SqliteExporterConfig:
    """Where the run store lives, and its queue."""

    path: str = "trainwire.db"
    """The SQLite file; created with its directory if missing."""
    sending_queue: QueueConfig = field(default_factory=QueueConfig)
    """When full, receivers push back (UNAVAILABLE / 503 with a retry delay)."""
    retry_on_failure: RetryConfig = field(default_factory=_store_retry)

    def validate(self) -> list[str]:
        """Return one line per problem."""
        if not self.path or not str(self.path).strip():
            return ["path: required; give the SQLite file, e.g. ./trainwire.db"]
        return []
