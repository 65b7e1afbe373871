"""Factory of the OTLP receiver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.receivers.otlp.config import OtlpReceiverConfig
from trainwire.collector.receivers.otlp.otlp import OtlpReceiver

__all__ = ["factory"]


def _create(
    config: OtlpReceiverConfig, *, id: ComponentID, next_consumers: Mapping[Signal, Any]
) -> OtlpReceiver:
    return OtlpReceiver(config, id=id, next_consumers=next_consumers)


factory = Factory(
    type="otlp",
    kind=Kind.RECEIVER,
    default_config=OtlpReceiverConfig,
    create=_create,
    signals=frozenset({Signal.METRICS, Signal.LOGS, Signal.TRACES}),
)
