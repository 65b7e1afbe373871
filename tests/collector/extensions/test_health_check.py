"""The health_check extension: 503 until the pipelines are ready, 200 while serving, 503 when stopping."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trainwire.collector import Service, default_factories, make_factory_map, parse_config
from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.components import builtin_factories
from trainwire.collector.extensions.health_check import (
    HealthCheckConfig,
    HealthCheckExtension,
    factory,
)
from trainwire.collector.extensions.health_check.health_check import _duration
from trainwire.testing import CollectorProcess
from trainwire.testing import ComponentHost as Host

T0 = 1_700_000_000.0


class Clock:
    """A wall clock that moves only when told."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _get(port: int, path: str = "/") -> tuple[int, dict[str, Any]]:
    """GET http://127.0.0.1:port/path; return the status and the JSON body."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body.startswith(b"{") else {}


def test_status_follows_ready_and_not_ready() -> None:
    """GET answers 503 while starting, 200 with upSince and uptime once ready, 503 again once stopping."""
    clock = Clock()
    extension = HealthCheckExtension(
        HealthCheckConfig(endpoint="127.0.0.1:0"), id=ComponentID("health_check"), clock=clock
    )

    async def body() -> None:
        await extension.shutdown()  # safe before start
        await extension.start(Host())
        assert extension.port
        starting = await asyncio.to_thread(_get, extension.port)
        assert starting == (
            503,
            {"status": "Server not available", "upSince": "0001-01-01T00:00:00Z", "uptime": ""},
        )
        extension.ready()
        clock.now += 49.5
        assert await asyncio.to_thread(_get, extension.port) == (
            200,
            {
                "status": "Server available",
                "upSince": "2023-11-14T22:13:20.000000Z",
                "uptime": "49.5s",
            },
        )
        extension.not_ready()
        code, stopping = await asyncio.to_thread(_get, extension.port)
        assert (code, stopping["status"]) == (503, "Server not available")
        port = extension.port
        await extension.shutdown()
        await extension.shutdown()
        with pytest.raises(urllib.error.URLError):
            await asyncio.to_thread(_get, port)

    asyncio.run(asyncio.wait_for(body(), 30))


def test_only_the_configured_path_answers() -> None:
    """With path /health, GET /health answers and other paths are 404."""
    extension = factory.create(
        HealthCheckConfig(endpoint="127.0.0.1:0", path="/health"), id=ComponentID("health_check")
    )

    async def body() -> None:
        await extension.start(Host())
        extension.ready()
        try:
            code, status = await asyncio.to_thread(_get, extension.port, "/health")
            assert (code, status["status"]) == (200, "Server available")
            assert (await asyncio.to_thread(_get, extension.port, "/"))[0] == 404
        finally:
            await extension.shutdown()

    asyncio.run(asyncio.wait_for(body(), 30))


def test_taken_port_fails_start_naming_the_endpoint() -> None:
    """A port already in use fails start with an OSError that names the endpoint."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        endpoint = f"127.0.0.1:{taken.getsockname()[1]}"
        extension = HealthCheckExtension(
            HealthCheckConfig(endpoint=endpoint), id=ComponentID("health_check")
        )
        with pytest.raises(OSError, match=f"health_check: cannot listen on {endpoint}"):
            asyncio.run(extension.start(Host()))


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, "0s"),
        (49.0132518, "49.013252s"),
        (123.5, "2m3.5s"),
        (3602.0, "1h0m2s"),
        (-1.0, "0s"),
    ],
)
def test_uptime_is_written_like_a_go_duration(seconds: float, expected: str) -> None:
    """Uptime reads like the Collector's Go durations (49.01s, 2m3.5s, 1h0m2s)."""
    assert _duration(seconds) == expected


@dataclass(frozen=True)
class _NoConfig:
    """A test component's (empty) config."""


class _Recorder:
    """Appends its lifecycle and the service's notices to a shared log."""

    def __init__(self, log: list[str], name: str) -> None:
        self.log = log
        self.name = name

    async def start(self, host: Any) -> None:
        self.log.append(f"{self.name} start")

    async def shutdown(self) -> None:
        self.log.append(f"{self.name} shutdown")

    def ready(self) -> None:
        self.log.append(f"{self.name} ready")

    def not_ready(self) -> None:
        self.log.append(f"{self.name} not_ready")

    async def consume_metrics(self, request: Any) -> None:
        pass


def test_service_tells_extensions_ready_after_start_and_not_ready_before_shutdown() -> None:
    """The service calls ready() once every component started and not_ready() before any shuts down."""
    log: list[str] = []
    factories = make_factory_map(
        [
            *builtin_factories(),
            Factory("recorder", Kind.EXTENSION, _NoConfig, lambda c, id: _Recorder(log, "ext")),
            Factory(
                "recording",
                Kind.EXPORTER,
                _NoConfig,
                lambda c, id: _Recorder(log, "exporter"),
                signals=frozenset({Signal.METRICS}),
            ),
        ]
    )
    config = parse_config(
        {
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
            "exporters": {"recording": None},
            "extensions": {"recorder": None},
            "service": {
                "extensions": ["recorder"],
                "pipelines": {"metrics": {"receivers": ["otlp"], "exporters": ["recording"]}},
            },
        },
        factories,
    )

    async def body() -> None:
        service = Service(config)
        task = asyncio.create_task(service.run())
        while "ext ready" not in log:
            await asyncio.sleep(0.01)
        service.stop()
        await task

    asyncio.run(asyncio.wait_for(body(), 30))
    assert log == [
        "ext start",
        "exporter start",
        "ext ready",
        "ext not_ready",
        "exporter shutdown",
        "ext shutdown",
    ]


HEALTH_CONFIG = """\
receivers:
  otlp:
    protocols: {{grpc: {{endpoint: "127.0.0.1:0"}}}}
exporters:
  sqlite:
    path: {db_path}
    sending_queue: {{storage: storage}}
extensions:
  storage: {{directory: {data_dir}}}
  health_check: {{endpoint: "127.0.0.1:0"}}
service:
  extensions: [storage, health_check]
  pipelines:
    metrics: {{receivers: [otlp], exporters: [sqlite]}}
"""


def test_running_collector_answers_200(tmp_path: Path) -> None:
    """A started collector process answers its health endpoint with 200 and logs the bound port."""
    with CollectorProcess(tmp_path, config=HEALTH_CONFIG) as collector:
        found = re.search(
            r"health_check extension: health listening on 127\.0\.0\.1:(\d+)",
            "".join(collector.output),
        )
        assert found, collector.output
        code, status = _get(int(found.group(1)))
        assert (code, status["status"]) == (200, "Server available")


def test_health_check_factory_is_registered() -> None:
    """health_check is a built-in extension type."""
    assert default_factories()[Kind.EXTENSION]["health_check"] is factory
