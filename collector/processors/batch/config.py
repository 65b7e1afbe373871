"""Config of the ``batch`` processor, shaped like the OpenTelemetry Collector's."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BatchProcessorConfig"]


@dataclass(frozen=True)
class BatchProcessorConfig:
    """Settings of the ``batch`` processor."""

    timeout_s: float = 0.2
    """How long the first request of a batch waits for others before the batch is sent."""
    send_batch_size: int = 8192
    """Units (data points, log records, spans) that send a batch at once; 0: only the timeout."""
    send_batch_max_size: int = 0
    """Most units in one batch; larger requests are split. 0: no cap."""
    merge_resources: bool = True
    """Merge equal resources of the batched requests into one (fewer, larger resource entries)."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        if not 0 <= self.timeout_s <= 60:
            problems.append(f"timeout_s: must be between 0 and 60 seconds, got {self.timeout_s}")
        if self.send_batch_size < 0:
            problems.append(f"send_batch_size: must be 0 or more, got {self.send_batch_size}")
        if self.send_batch_max_size < 0:
            problems.append(
                f"send_batch_max_size: must be 0 (no cap) or more, got {self.send_batch_max_size}"
            )
        elif 0 < self.send_batch_max_size < self.send_batch_size:
            problems.append(
                f"send_batch_max_size: must be 0 (no cap) or at least send_batch_size"
                f" ({self.send_batch_size}), got {self.send_batch_max_size}"
            )
        return problems
