"""The ``otlp`` (gRPC) and ``otlphttp`` exporters: forward OTLP to another collector or backend.

The agent → gateway hop of the OpenTelemetry topology. The gRPC exporter also
forwards artifact blobs when the next hop is a trainwire collector.
"""

from __future__ import annotations

from trainwire.exporters.otlp.config import (
    ArtifactForwardConfig,
    OtlpExporterConfig,
    OtlpHttpExporterConfig,
    TlsConfig,
)
from trainwire.exporters.otlp.factory import factory, http_factory
from trainwire.exporters.otlp.otlp import OtlpExporter
from trainwire.exporters.otlp.split import split_request

__all__ = [
    "ArtifactForwardConfig",
    "OtlpExporter",
    "OtlpExporterConfig",
    "OtlpHttpExporterConfig",
    "TlsConfig",
    "factory",
    "http_factory",
    "split_request",
]
