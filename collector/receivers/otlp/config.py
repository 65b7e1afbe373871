"""Config of the OTLP receiver, shaped like the OpenTelemetry Collector's."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["GrpcServerConfig", "OtlpReceiverConfig", "Protocols", "parse_endpoint"]


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:port`` for IPv6); raise ValueError naming the problem."""
    host, sep, port_text = endpoint.rpartition(":")
    if not sep or not host:
        raise ValueError(f"'{endpoint}' is not host:port, e.g. localhost:4317")
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"'{endpoint}': port '{port_text}' is not a number")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"'{endpoint}': port {port} is outside 0-65535")
    return host.strip("[]"), port


@dataclass(frozen=True)
class GrpcServerConfig:
    """The gRPC server: where it listens and how large a request may be."""

    endpoint: str = "localhost:4317"
    """``host:port``; port 0 picks a free port (logged at start)."""
    max_recv_msg_size_mib: int = 4
    """Largest request accepted, in MiB; larger ones get RESOURCE_EXHAUSTED."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        try:
            parse_endpoint(self.endpoint)
        except ValueError as exc:
            problems.append(f"endpoint: {exc}")
        if not 1 <= self.max_recv_msg_size_mib <= 1024:
            problems.append("max_recv_msg_size_mib: must be between 1 and 1024")
        return problems


@dataclass(frozen=True)
class Protocols:
    """The protocols the receiver serves (``grpc:`` with no settings enables defaults)."""

    grpc: GrpcServerConfig = field(default_factory=GrpcServerConfig)


@dataclass(frozen=True)
class OtlpReceiverConfig:
    """Settings of the ``otlp`` receiver."""

    protocols: Protocols = field(default_factory=Protocols)
