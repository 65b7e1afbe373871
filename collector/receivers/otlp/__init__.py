"""The OTLP receiver: OpenTelemetry's protocol over gRPC and HTTP."""

from __future__ import annotations

from trainwire.collector.receivers.otlp.config import (
    AuthConfig,
    GrpcServerConfig,
    HttpServerConfig,
    OtlpReceiverConfig,
    Protocols,
    TLSConfig,
)
from trainwire.collector.receivers.otlp.factory import factory
from trainwire.collector.receivers.otlp.otlp import OtlpReceiver

__all__ = [
    "AuthConfig",
    "GrpcServerConfig",
    "HttpServerConfig",
    "OtlpReceiver",
    "OtlpReceiverConfig",
    "Protocols",
    "TLSConfig",
    "factory",
]
