"""Fixtures of the processor tests: a recording sink and a host with real telemetry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from trainwire.testing import ComponentHost as Host


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


@pytest.fixture
def sink() -> Sink:
    """A sink recording every request handed on."""
    return Sink()


@pytest.fixture
def host() -> Host:
    """A host whose telemetry the processors count into."""
    return Host()
