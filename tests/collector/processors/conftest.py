"""Fixtures of the processor tests: a recording sink and a host with real telemetry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from trainwire.collector.component import Component, ComponentID
from trainwire.collector.telemetry import Telemetry


class Sink:
    """Records what a processor hands on; can fail every call, or hold calls until released."""

    def __init__(self) -> None:
        self.metrics: list[Any] = []
        self.logs: list[Any] = []
        self.traces: list[Any] = []
        self.calls = 0
        self.error: BaseException | None = None
        self.gate: asyncio.Event | None = None

    async def consume_metrics(self, request: Any) -> None:
        await self._take(self.metrics, request)

    async def consume_logs(self, request: Any) -> None:
        await self._take(self.logs, request)

    async def consume_traces(self, request: Any) -> None:
        await self._take(self.traces, request)

    async def _take(self, into: list[Any], request: Any) -> None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        into.append(request)


class Host:
    """A host with real telemetry and no extensions."""

    def __init__(self) -> None:
        self.telemetry = Telemetry()
        self.statuses: list[str] = []

    def report_status(self, component: ComponentID, message: str) -> None:
        self.statuses.append(f"{component}: {message}")

    def get_extension(self, component: ComponentID) -> Component | None:
        return None


@pytest.fixture
def sink() -> Sink:
    """A sink recording every request handed on."""
    return Sink()


@pytest.fixture
def host() -> Host:
    """A host whose telemetry the processors count into."""
    return Host()
