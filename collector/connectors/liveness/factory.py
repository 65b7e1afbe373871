"""Factory of the liveness connector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.connectors.liveness.config import LivenessConfig
from trainwire.collector.connectors.liveness.liveness import LivenessConnector

__all__ = ["factory"]


def _create(
    config: LivenessConfig,
    *,
    id: ComponentID,
    next_consumers: Mapping[Signal, Any] | None = None,
) -> LivenessConnector:
    return LivenessConnector(config, id=id, next_consumers=next_consumers or {})


factory = Factory(
    type="liveness",
    kind=Kind.CONNECTOR,
    default_config=LivenessConfig,
    create=_create,
    signals=frozenset({Signal.METRICS, Signal.LOGS}),
    emits=frozenset({Signal.LOGS}),
)
