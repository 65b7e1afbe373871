"""Config of the OTLP receiver, shaped like the OpenTelemetry Collector's.

``protocols`` lists the servers to run: a protocol written down, even with no
settings (``http:``), is enabled with its defaults; one left out is off. At least
one is required.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from trainwire.collector.artifacts.config import ArtifactsConfig
from trainwire.collector.endpoint import parse_endpoint

__all__ = [
    "INSTALL_HINT",
    "AuthConfig",
    "GrpcServerConfig",
    "HttpServerConfig",
    "OtlpReceiverConfig",
    "Protocols",
    "TLSConfig",
    "aiohttp_available",
    "parse_endpoint",
]

INSTALL_HINT = "needs aiohttp, which is not installed; pip install 'trainwire[server]'"


def aiohttp_available() -> bool:
    """Whether aiohttp can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec("aiohttp") is not None
    except (ImportError, ValueError):  # ValueError: sys.modules["aiohttp"] is None
        return False


@dataclass(frozen=True)
class TLSConfig:
    """``tls``: serve over TLS with this certificate chain and private key (PEM files)."""

    cert_file: str = ""
    key_file: str = ""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        return [
            f"{name}: required with tls; give a PEM file path"
            for name in ("cert_file", "key_file")
            if not getattr(self, name)
        ]


def _endpoint_problems(endpoint: str, example: str) -> list[str]:
    try:
        parse_endpoint(endpoint)
    except ValueError as exc:
        return [f"endpoint: {str(exc).replace('localhost:4317', example)}"]
    return []


@dataclass(frozen=True)
class GrpcServerConfig:
    """The gRPC server: where it listens and how large a request may be."""

    endpoint: str = "localhost:4317"
    """``host:port``; port 0 picks a free port (logged at start)."""
    max_recv_msg_size_mib: int = 4
    """Largest request accepted, in MiB; larger ones get RESOURCE_EXHAUSTED."""
    tls: TLSConfig | None = None
    """Serve gRPC over TLS; absent means plaintext."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = _endpoint_problems(self.endpoint, "localhost:4317")
        if not 1 <= self.max_recv_msg_size_mib <= 1024:
            problems.append("max_recv_msg_size_mib: must be between 1 and 1024")
        return problems


@dataclass(frozen=True)
class HttpServerConfig:
    """The OTLP/HTTP server (``POST /v1/metrics``, ``/v1/logs``, ``/v1/traces``)."""

    endpoint: str = "localhost:4318"
    """``host:port``; port 0 picks a free port (logged at start)."""
    max_request_body_size_mib: int = 4
    """Largest body accepted, in MiB, before and after gzip inflation; larger gets 413."""
    tls: TLSConfig | None = None
    """Serve HTTPS; absent means plain HTTP."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = _endpoint_problems(self.endpoint, "localhost:4318")
        if not 1 <= self.max_request_body_size_mib <= 1024:
            problems.append("max_request_body_size_mib: must be between 1 and 1024")
        return problems


@dataclass(frozen=True)
class Protocols:
    """The servers the receiver runs; a protocol listed with no settings takes its defaults."""

    grpc: GrpcServerConfig | None = None
    http: HttpServerConfig | None = None


@dataclass(frozen=True)
class AuthConfig:
    """``auth``: requests must carry ``authorization: Bearer <bearer_token>``."""

    bearer_token: str | None = field(default=None, repr=False)
    """The shared secret, usually ``${env:VAR}``; never logged."""

    def validate(self) -> list[str]:
        """Return one line per problem, without ever quoting the token."""
        token = self.bearer_token
        if not token:
            return [
                "bearer_token: required with auth (is its environment variable unset?);"
                " e.g. bearer_token: ${env:TRAINWIRE_TOKEN}"
            ]
        if not all("!" <= c <= "~" for c in token):
            return [
                "bearer_token: must be printable ASCII without spaces"
                " (check the variable for a trailing newline)"
            ]
        return []


@dataclass(frozen=True)
class OtlpReceiverConfig:
    """Settings of the ``otlp`` receiver."""

    protocols: Protocols = field(default_factory=Protocols)
    auth: AuthConfig | None = None
    """Require a bearer token on both protocols; absent means no authentication."""
    artifacts: ArtifactsConfig = field(default_factory=ArtifactsConfig)
    """trainwire's ArtifactService on the same ports (gRPC; HTTP under /v1/artifacts)."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        if self.protocols.grpc is None and self.protocols.http is None:
            return [
                "protocols: required; enable grpc and/or http, e.g."
                " protocols: {grpc: {endpoint: localhost:4317}, http: }"
            ]
        if self.protocols.http is not None and not aiohttp_available():
            return [f"protocols::http: {INSTALL_HINT}"]
        return []
