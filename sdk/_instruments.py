"""Optional instruments of a run: OpenTelemetry meters, system metrics, console capture.

A mixin of :class:`trainwire.Run`; each instrument hands what it measures to the run's
sender, so it is spooled and delivered with the run's own data.
"""

from __future__ import annotations

from typing import Any

from trainwire import semconv
from trainwire.sender import Sender

__all__ = ["Instruments"]


class Instruments:
    """``meter_provider()``, and the system-metrics and console instruments init() starts."""

    _sender: Sender
    _resource_attributes: dict[str, Any]
    _meter_provider: Any
    _system: Any
    _console: Any
    _finished: bool
    _forked: bool
    _logs_scalars: bool
    _lock: Any

    def _event(self, name: str, body: Any, attributes: Any = None) -> None:
        raise NotImplementedError

    def meter_provider(self, *, export_interval_s: float = 10.0) -> Any:
        """An OpenTelemetry ``MeterProvider`` whose meters land in this run.

        Counters, histograms and gauges made from it carry the run's resource and travel
        with the run's own data (spooled, retried). Needs ``trainwire[otel]``. The same
        provider is returned on every call; ``finish()`` flushes and shuts it down.
        """
        if self._meter_provider is None:
            from trainwire.otel import make_meter_provider

            self._meter_provider = make_meter_provider(
                self._resource_attributes, self._sender.put, export_interval_s=export_interval_s
            )
        return self._meter_provider

    def _sample_system(self, interval_s: float) -> None:
        """Record process and host metrics every ``interval_s`` (init's system_metrics)."""
        from trainwire._system import SystemSampler

        sampler = SystemSampler(self._sender.resource, self._sender.put, interval_s=interval_s)
        if sampler.start():
            self._system = sampler

    def _capture_console(self) -> None:
        """Send what the script prints as ``ml.console`` events (init's capture_console)."""
        from trainwire._console import ConsoleCapture

        def emit(stream: str, line: str) -> None:
            if not self._finished and not self._forked and self._logs_scalars:
                attributes = {semconv.LOG_IOSTREAM: stream}
                self._event(semconv.EVENT_CONSOLE, line, attributes)

        self._console = ConsoleCapture(emit)
        self._console.install()

    def _stop_instruments(self) -> None:
        """Flush and stop every instrument, so their last readings join the run's data."""
        if self._meter_provider is not None:
            self._meter_provider.shutdown()
        if self._console is not None:
            self._console.uninstall()
        if self._system is not None:
            self._system.stop()
