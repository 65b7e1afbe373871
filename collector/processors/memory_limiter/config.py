"""Config of the ``memory_limiter`` processor, shaped like the OpenTelemetry Collector's."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMIT_PERCENTAGE", "MemoryLimiterProcessorConfig"]

DEFAULT_LIMIT_PERCENTAGE = 80
"""The hard limit when neither ``limit_mib`` nor ``limit_percentage`` is set."""
_MIB = 1 << 20


@dataclass(frozen=True)
class MemoryLimiterProcessorConfig:
    """Settings of the ``memory_limiter`` processor.

    Set at most one of ``limit_mib`` and ``limit_percentage``; with neither, the
    hard limit is 80% of the memory available. Data is refused while resident
    memory is above the soft limit, the hard limit less the spike limit.
    """

    check_interval_s: float = 1.0
    """How often resident memory is measured; also the Retry-After given to refused clients."""
    limit_mib: int = 0
    """Hard limit on the process's resident memory, in MiB; 0: not set."""
    spike_limit_mib: int = 0
    """Headroom below ``limit_mib`` where refusing starts, in MiB; 0: 20% of the limit."""
    limit_percentage: int = 0
    """Hard limit as a percentage of the memory available (the cgroup's limit when it has
    one, else physical memory); 0: not set."""
    spike_limit_percentage: int = 0
    """Headroom as a percentage of the memory available; 0: 20% of the limit."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        if not 0 < self.check_interval_s <= 3600:
            problems.append(
                "check_interval_s: must be more than 0 and at most 3600,"
                f" got {self.check_interval_s}"
            )
        for name in ("limit_mib", "spike_limit_mib"):
            if getattr(self, name) < 0:
                problems.append(f"{name}: must be 0 (not set) or more, got {getattr(self, name)}")
        for name in ("limit_percentage", "spike_limit_percentage"):
            if not 0 <= getattr(self, name) <= 100:
                problems.append(f"{name}: must be 0 (not set) to 100, got {getattr(self, name)}")
        if self.limit_mib and self.limit_percentage:
            problems.append(
                "limit_mib: set either limit_mib or limit_percentage, not both"
                f" (got {self.limit_mib} MiB and {self.limit_percentage}%)"
            )
        elif self.limit_mib > 0:
            problems.extend(self._spike_problems("spike_limit_mib", "spike_limit_percentage"))
        elif self.limit_mib == 0:
            problems.extend(self._spike_problems("spike_limit_percentage", "spike_limit_mib"))
        return problems

    def _spike_problems(self, spike: str, other: str) -> list[str]:
        limit = "limit_mib" if spike == "spike_limit_mib" else "limit_percentage"
        problems = []
        if getattr(self, other):
            problems.append(f"{other}: only used with {other.removeprefix('spike_')}; use {spike}")
        hard = getattr(self, limit) or DEFAULT_LIMIT_PERCENTAGE
        if getattr(self, spike) >= hard:
            problems.append(
                f"{spike}: must be less than {limit} ({hard}), got {getattr(self, spike)}"
            )
        return problems

    @property
    def uses_percentage(self) -> bool:
        """Whether the limits are shares of the memory available (rather than MiB)."""
        return not self.limit_mib

    def limits_bytes(self, available_bytes: int) -> tuple[int, int]:
        """The hard and soft limits in bytes, given the memory available to the process."""
        if self.limit_mib:
            hard = self.limit_mib * _MIB
            spike = self.spike_limit_mib * _MIB or hard // 5
        else:
            hard = available_bytes * (self.limit_percentage or DEFAULT_LIMIT_PERCENTAGE) // 100
            spike = available_bytes * self.spike_limit_percentage // 100 or hard // 5
        return hard, hard - spike
