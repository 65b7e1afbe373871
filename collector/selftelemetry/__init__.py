"""The collector's own metrics on a Prometheus endpoint (``service::telemetry::metrics``)."""

from __future__ import annotations

from trainwire.collector.selftelemetry.process import ProcessStats
from trainwire.collector.selftelemetry.server import TelemetryServer

__all__ = ["ProcessStats", "TelemetryServer"]
