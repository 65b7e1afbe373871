"""Config of the ``otlp`` (gRPC) and ``otlphttp`` exporters, shaped like the Collector's."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from trainwire.collector.exporterhelper import QueueConfig, RetryConfig
from trainwire.errors import ConfigError
from trainwire.transports.grpc import parse_grpc_endpoint

__all__ = ["ArtifactForwardConfig", "OtlpExporterConfig", "OtlpHttpExporterConfig", "TlsConfig"]

COMPRESSIONS = ("gzip", "none")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


@dataclass(frozen=True)
class TlsConfig:
    """``tls``: how the connection to the next hop is secured."""

    insecure: bool = False
    """Plaintext instead of TLS (an ``http://`` endpoint is plaintext too)."""
    ca_file: str = ""
    """PEM file of the certificate authorities to trust instead of the system's."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        if self.ca_file and not os.access(os.path.expanduser(self.ca_file), os.R_OK):
            problems.append(f"ca_file: cannot read {self.ca_file!r}; give a readable PEM file")
        if self.ca_file and self.insecure:
            problems.append("ca_file: has no effect with insecure: true; drop one of them")
        return problems


@dataclass(frozen=True)
class ArtifactForwardConfig:
    """``artifacts``: forward artifact blobs to a next hop that is a trainwire collector."""

    directory: str = ""
    """This collector's artifact store (its receiver's ``artifacts::directory``); empty: off."""


@dataclass(frozen=True)
class _Common:
    endpoint: str = ""
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    """Sent with every request (e.g. authorization); never logged."""
    tls: TlsConfig = field(default_factory=TlsConfig)
    timeout_s: float = 10.0
    """Deadline of one attempt to send one request."""
    compression: str = "gzip"
    """``gzip`` or ``none``."""
    sending_queue: QueueConfig = field(default_factory=QueueConfig)
    """When full, the oldest progress updates are dropped (counted); run events never."""
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)

    def _common_problems(self) -> list[str]:
        problems: list[str] = []
        if self.sending_queue.enabled and not self.sending_queue.storage:
            # Checked here too: the queue's own validate() runs only when the section is written.
            problems.extend(f"sending_queue::{line}" for line in self.sending_queue.validate())
        if self.timeout_s <= 0:
            problems.append("timeout_s: must be more than 0")
        if self.compression not in COMPRESSIONS:
            problems.append(
                f"compression: '{self.compression}' is not one of {', '.join(COMPRESSIONS)}"
            )
        for name, value in self.headers.items():
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                problems.append(f"headers::{name}: not a valid header name")
            elif not isinstance(value, str) or "\n" in value or "\r" in value:
                # The value is never echoed: headers carry credentials.
                problems.append(f"headers::{name}: expected a one-line string value")
        return problems


@dataclass(frozen=True)
class OtlpExporterConfig(_Common):
    """Settings of the ``otlp`` exporter: OTLP/gRPC to another collector or backend."""

    endpoint: str = ""
    """``host:port`` of the next hop (``http://`` for plaintext, ``https://`` for TLS)."""
    artifacts: ArtifactForwardConfig = field(default_factory=ArtifactForwardConfig)

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = self._common_problems()
        if not self.endpoint.strip():
            problems.append(
                "endpoint: required; the next hop's OTLP/gRPC address, e.g. gateway:4317"
            )
            return problems
        try:
            parse_grpc_endpoint(self.endpoint)
        except ConfigError as exc:
            problems.append(f"endpoint: {exc}")
        if self.endpoint.strip().startswith("https://") and self.tls.insecure:
            problems.append("tls::insecure: contradicts the https:// endpoint; drop one of them")
        for name in self.headers:
            lowered = str(name).lower()
            if lowered.endswith("-bin") or lowered.startswith("grpc-"):
                problems.append(f"headers::{name}: reserved by gRPC; use another name")
        return problems


@dataclass(frozen=True)
class OtlpHttpExporterConfig(_Common):
    """Settings of the ``otlphttp`` exporter: OTLP/HTTP (protobuf) to ``<endpoint>/v1/<signal>``."""

    endpoint: str = ""
    """Base URL of the next hop, e.g. ``http://gateway:4318``; TLS with ``https://``."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = self._common_problems()
        endpoint = self.endpoint.strip()
        if not endpoint:
            problems.append(
                "endpoint: required; the base URL of an OTLP/HTTP receiver, e.g. http://gateway:4318"
            )
        elif not re.fullmatch(r"https?://[^/\s]+(/\S*)?", endpoint):
            problems.append(
                f"endpoint: '{self.endpoint}' is not an http:// or https:// URL;"
                " e.g. http://gateway:4318"
            )
        elif self.tls.insecure and endpoint.startswith("https://"):
            problems.append("tls::insecure: use an http:// endpoint for plaintext instead")
        return problems
