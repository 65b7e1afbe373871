"""Factory of the hostmetrics receiver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.receivers.hostmetrics.config import HostmetricsReceiverConfig
from trainwire.collector.receivers.hostmetrics.hostmetrics import HostmetricsReceiver

__all__ = ["factory"]


def _create(
    config: HostmetricsReceiverConfig, *, id: ComponentID, next_consumers: Mapping[Signal, Any]
) -> HostmetricsReceiver:
    return HostmetricsReceiver(config, id=id, next_consumers=next_consumers)


factory = Factory(
    type="hostmetrics",
    kind=Kind.RECEIVER,
    default_config=HostmetricsReceiverConfig,
    create=_create,
    signals=frozenset({Signal.METRICS}),
)
