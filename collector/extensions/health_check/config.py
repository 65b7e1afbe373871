"""Config of the health_check extension, shaped like the OpenTelemetry Collector's."""

from __future__ import annotations

from dataclasses import dataclass

from trainwire.collector.endpoint import parse_endpoint

__all__ = ["HealthCheckConfig"]


@dataclass(frozen=True)
class HealthCheckConfig:
    """Where the health endpoint listens (Kubernetes probes point here)."""

    endpoint: str = "localhost:13133"
    """``host:port``; in a pod use ``${env:MY_POD_IP}:13133``. Port 0 picks a free port."""
    path: str = "/"
    """The URL path that answers."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        try:
            parse_endpoint(self.endpoint)
        except ValueError as exc:
            problems.append(f"endpoint: {exc}")
        if not self.path.startswith("/"):
            problems.append(f"path: must start with '/', e.g. /health (got '{self.path}')")
        return problems
