"""Config of the sqlite exporter (the run store)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trainwire.collector.exporterhelper import QueueConfig, RetryConfig

__all__ = ["ApiConfig", "SqliteExporterConfig"]


@dataclass(frozen=True)
class ApiConfig:
    """The HTTP query API the collector serves over the store (``trainwire ui`` serves it too)."""

    endpoint: str = "localhost:8080"
    """host:port to listen on; 0.0.0.0:8080 accepts other hosts."""
    read_token: str = ""
    """When set, every request needs ``Authorization: Bearer <read_token>``."""
    artifacts_directory: str = ""
    """The artifact store to serve blobs from: the OTLP receiver's ``artifacts::directory``
    (default: ``artifacts/`` beside the store file)."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        from trainwire.collector.endpoint import parse_endpoint

        problems = []
        try:
            parse_endpoint(self.endpoint)
        except ValueError as exc:
            problems.append(f"endpoint: {exc}")
        if self.read_token != self.read_token.strip():
            problems.append("read_token: has leading or trailing spaces")
        if self.artifacts_directory and not self.artifacts_directory.strip():
            problems.append("artifacts_directory: is blank; give a directory or leave it out")
        return problems


def _share_problem(share: float) -> str | None:
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        return (
            f"sealing_cpu_share: must be a share of one core from 0 (never seal) to 1"
            f" (no limit), e.g. 0.02; got {share!r}"
        )
    return None


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
    lease_s: float = 0.0
    """Embedded default only (the store in the training process): record this process as
    the owner of each run it writes, renewed every third of ``lease_s``, so readers can
    show a killed run as crashed. 0 (the default, and right for a collector): off."""
    writer_process: bool = True
    """Parse and write in a child process, beside the one that receives (two cores for
    ingest). The embedded default, in the training process, writes on a thread instead."""
    sealing_cpu_share: float = 1.0
    """The share of one core the writer may spend sealing a series' older points into
    packed chunks (fast reads, a third of the size). 1 (the default): no limit, sealing
    keeps up with ingest. The embedded default uses 0.02, so training never waits on it;
    what it leaves loose reads the same, only slower. 0: never seal."""
    api: ApiConfig | None = None
    """The HTTP query API (off when absent), e.g. ``{endpoint: "localhost:8080"}``."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems: list[str] = []
        if not self.path or not str(self.path).strip():
            problems.append("path: required; give the SQLite file, e.g. ./trainwire.db")
        if not self.lease_s >= 0:
            problems.append(f"lease_s: must be 0 (off) or more, got {self.lease_s}")
        elif self.lease_s > 0 and self.writer_process:
            problems.append(
                "lease_s: a lease names the process that writes; set writer_process: false"
            )
        share = _share_problem(self.sealing_cpu_share)
        if share:
            problems.append(share)
        return problems
