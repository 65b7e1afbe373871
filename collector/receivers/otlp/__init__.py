"""The OTLP receiver: OpenTelemetry's protocol over gRPC."""

from __future__ import annotations

from trainwire.collector.receivers.otlp.config import GrpcServerConfig, OtlpReceiverConfig
from trainwire.collector.receivers.otlp.factory import factory
from trainwire.collector.receivers.otlp.otlp import OtlpReceiver

__all__ = ["GrpcServerConfig", "OtlpReceiver", "OtlpReceiverConfig", "factory"]
