"""The liveness connector: marks silent runs crashed and stalled runs with an alert."""

from __future__ import annotations

from trainwire.collector.connectors.liveness.config import LivenessConfig
from trainwire.collector.connectors.liveness.factory import factory
from trainwire.collector.connectors.liveness.liveness import LivenessConnector

__all__ = ["LivenessConfig", "LivenessConnector", "factory"]
