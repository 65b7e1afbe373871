"""Config of the liveness connector."""

from __future__ import annotations

from dataclasses import dataclass

from trainwire.collector.component import ComponentID

__all__ = ["LivenessConfig"]

_BACKOFF_FACTOR = 4
"""A live run misses at most this many heartbeats in a row before it must be called dead."""


@dataclass(frozen=True)
class LivenessConfig:
    """When a run rank counts as crashed (silent) or stalled (heartbeats without progress)."""

    heartbeat_interval_s: float = 10.0
    """How often the SDK sends ``ml.run.heartbeat``: the SDK's own setting, repeated here."""
    sdk_max_backoff_s: float = 5.0
    """The SDK's longest retry backoff: how long a live run may stay quiet while retrying."""
    heartbeat_timeout_s: float | None = None
    """Silence after which a run rank is declared crashed (provisionally: any later data
    revives it). Default and minimum: 4 × heartbeat_interval_s + sdk_max_backoff_s (45 s)."""
    check_interval_s: float = 5.0
    """How often silent and stalled run ranks are looked for."""
    stall_timeout_s: float = 300.0
    """Heartbeats arriving while their ``last_log_time`` stays put this long raise one
    "run stalled" alert (a hung collective keeps the heartbeat thread alive); 0 turns it off."""
    declare: bool = True
    """False: only keep the list of live run ranks that the nvml and hostmetrics receivers
    use to tie processes to runs, and never declare a crash or a stall. For an agent that
    forwards to a gateway whose own liveness connector declares them (once)."""
    storage: str = ""
    """The storage extension that keeps last-seen times across collector restarts, e.g.
    ``storage``. Empty keeps them in memory only: a restart then forgets silent runs."""

    @property
    def minimum_timeout_s(self) -> float:
        """The shortest ``heartbeat_timeout_s`` that cannot declare a live run crashed."""
        return _BACKOFF_FACTOR * self.heartbeat_interval_s + self.sdk_max_backoff_s

    @property
    def timeout_s(self) -> float:
        """The heartbeat timeout in force."""
        if self.heartbeat_timeout_s is None:
            return self.minimum_timeout_s
        return self.heartbeat_timeout_s

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        if self.heartbeat_interval_s <= 0:
            problems.append("heartbeat_interval_s: must be more than 0")
        if self.sdk_max_backoff_s < 0:
            problems.append("sdk_max_backoff_s: must be 0 or more")
        if self.heartbeat_timeout_s is not None and self.timeout_s < self.minimum_timeout_s:
            problems.append(
                f"heartbeat_timeout_s: must be at least 4 × heartbeat_interval_s +"
                f" sdk_max_backoff_s = {self.minimum_timeout_s:g} s, got"
                f" {self.heartbeat_timeout_s:g}; a shorter one declares live runs crashed"
            )
        if self.check_interval_s <= 0:
            problems.append("check_interval_s: must be more than 0")
        if self.stall_timeout_s < 0:
            problems.append("stall_timeout_s: must be 0 (off) or more")
        elif 0 < self.stall_timeout_s < 2 * self.heartbeat_interval_s:
            problems.append(
                f"stall_timeout_s: must be 0 (off) or at least 2 × heartbeat_interval_s ="
                f" {2 * self.heartbeat_interval_s:g} s, since progress is reported once a"
                " heartbeat"
            )
        if self.storage:
            try:
                ComponentID.parse(self.storage)
            except ValueError as exc:
                problems.append(f"storage: {exc}")
        return problems
