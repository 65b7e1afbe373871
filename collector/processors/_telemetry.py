"""Counting what a processor drops or refuses, under the Collector's metric names."""

from __future__ import annotations

from typing import Any

from trainwire.collector.component import ComponentID
from trainwire.collector.telemetry import Telemetry

__all__ = ["ProcessorCounters"]


class ProcessorCounters:
    """``otelcol_processor_<verb>_<unit>`` counters of one processor, labelled by its id.

    Counts go to a private registry until :meth:`bind` is given the host's, so a
    processor used before ``start`` (or by a host without telemetry) still counts.
    """

    def __init__(self, id: ComponentID, verb: str, description: str) -> None:
        self._id = str(id)
        self._verb = verb
        self._description = description
        self.telemetry = Telemetry()

    def bind(self, host: Any) -> None:
        """Count into ``host.telemetry`` from now on, when the host has one."""
        telemetry = getattr(host, "telemetry", None)
        if isinstance(telemetry, Telemetry):
            self.telemetry = telemetry

    def add(self, unit: str, amount: int) -> None:
        """Count ``amount`` units (``metric_points``, ``log_records``, ``spans``)."""
        if amount:
            self.telemetry.counter(
                f"otelcol_processor_{self._verb}_{unit}",
                f"{unit.replace('_', ' ').capitalize()} {self._description}",
                ("processor",),
            ).add(amount, processor=self._id)
