"""Queue and retry settings shared by every exporter (the Collector's exporterhelper)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QueueConfig", "RetryConfig"]


@dataclass(frozen=True)
class QueueConfig:
    """``sending_queue``: the exporter's persistent queue.

    A request is acknowledged to the sender once it is committed here; the
    exporter drains it in the background and it survives a restart.
    """

    enabled: bool = True
    """False: write through (the caller waits for the destination)."""
    storage: str = ""
    """The storage extension that holds the queue file, e.g. ``storage``."""
    queue_size: int = 1000
    """Requests the queue holds before it is full."""
    max_batch_requests: int = 64
    """How many queued requests one send may merge."""
    max_batch_mib: float = 1.0
    """Stop merging at this many MiB of encoded requests (bounds a send's latency)."""
    drain_timeout_s: float = 10.0
    """At shutdown, how long to keep sending what is queued (the rest waits on disk)."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        if self.enabled and not self.storage:
            problems.append(
                "storage: required while the queue is enabled; name a storage extension"
                " (extensions: {storage: {directory: ./trainwire-data}} and service::extensions:"
                " [storage]), or set enabled: false to write through"
            )
        if self.queue_size < 1:
            problems.append("queue_size: must be at least 1")
        if self.max_batch_requests < 1:
            problems.append("max_batch_requests: must be at least 1")
        if self.max_batch_mib <= 0:
            problems.append("max_batch_mib: must be more than 0")
        if self.drain_timeout_s < 0:
            problems.append("drain_timeout_s: must be 0 or more")
        return problems


@dataclass(frozen=True)
class RetryConfig:
    """``retry_on_failure``: exponential backoff with jitter between attempts."""

    enabled: bool = True
    initial_interval_s: float = 5.0
    max_interval_s: float = 30.0
    max_elapsed_time_s: float = 300.0
    """Give up on a request after this long; 0 retries forever."""
    multiplier: float = 1.5

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        if self.initial_interval_s <= 0:
            problems.append("initial_interval_s: must be more than 0")
        if self.max_interval_s < self.initial_interval_s:
            problems.append("max_interval_s: must be at least initial_interval_s")
        if self.max_elapsed_time_s < 0:
            problems.append("max_elapsed_time_s: must be 0 (forever) or more")
        if self.multiplier < 1:
            problems.append("multiplier: must be at least 1")
        return problems
