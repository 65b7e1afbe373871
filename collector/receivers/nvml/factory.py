"""Factory of the nvml receiver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.receivers.nvml.config import NvmlReceiverConfig
from trainwire.collector.receivers.nvml.nvml import NvmlReceiver

__all__ = ["factory"]


def _create(
    config: NvmlReceiverConfig, *, id: ComponentID, next_consumers: Mapping[Signal, Any]
) -> NvmlReceiver:
    return NvmlReceiver(config, id=id, next_consumers=next_consumers)


factory = Factory(
    type="nvml",
    kind=Kind.RECEIVER,
    default_config=NvmlReceiverConfig,
    create=_create,
    signals=frozenset({Signal.METRICS}),
)
