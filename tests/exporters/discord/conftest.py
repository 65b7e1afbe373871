"""Fixtures of the Discord exporter tests: the fake Discord server and a collector config."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from trainwire.testing import CollectorProcess

# The tests run with --import-mode=importlib, so the fake (a package) is loaded by path, once.
if "fake_discord" not in sys.modules:
    _package = Path(__file__).with_name("fake_discord")
    _spec = importlib.util.spec_from_file_location(
        "fake_discord", _package / "__init__.py", submodule_search_locations=[str(_package)]
    )
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["fake_discord"] = _module
    _spec.loader.exec_module(_module)

from fake_discord import FakeDiscord  # noqa: E402

COLLECTOR_CONFIG = """\
receivers:
  otlp:
    protocols: {{grpc: {{endpoint: "127.0.0.1:%d"}}}}
exporters:
  sqlite:
    path: {db_path}
    sending_queue: {{storage: storage}}
  discord:
    webhook_url: ${{env:DISCORD_WEBHOOK_URL}}
    storage: storage
    sending_queue: {{storage: storage}}
    retry_on_failure: {{initial_interval_s: 0.2, max_interval_s: 1}}
%s
extensions:
  storage: {{directory: {data_dir}}}
service:
  extensions: [storage]
  pipelines:
    metrics: {{receivers: [otlp], exporters: [sqlite, discord]}}
    logs: {{receivers: [otlp], exporters: [sqlite, discord]}}
"""


def collector_config(port: int = 0, log_level: str = "info", **settings: Any) -> str:
    """The test collector's config (OTLP gRPC on ``port``) with extra ``discord`` settings."""
    import json

    lines = "\n".join(f"    {key}: {json.dumps(value)}" for key, value in settings.items())
    lines = lines.replace("{", "{{").replace("}", "}}")  # CollectorProcess formats the text
    telemetry = f"  telemetry: {{{{logs: {{{{level: {log_level}}}}}}}}}\n"
    return COLLECTOR_CONFIG % (port, lines) + telemetry


@pytest.fixture
def config_for() -> Any:
    """``config_for(**settings)``: the collector config with those discord settings."""
    return collector_config


@pytest.fixture
def restart() -> Iterator[Callable[..., CollectorProcess]]:
    """``restart(collector, between=None)``: stop it, call ``between()``, and start a new
    collector process on its directory (same config file, storage and store); stopped at
    the end of the test.

    A new ``CollectorProcess`` rather than ``stop(); start()`` on the same one: the old
    process's output reader can still be finishing and would mark the new start done.
    """
    started: list[CollectorProcess] = []

    def _restart(
        old: CollectorProcess, between: Callable[[], None] | None = None
    ) -> CollectorProcess:
        old.stop()
        if between is not None:
            between()
        new = CollectorProcess(old.directory)  # its otel-config.yaml is already there
        started.append(new)
        return new.start()

    yield _restart
    for process in started:
        process.stop()


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    """A running fake Discord with Discord's community-observed bucket (5 requests / 2 s)."""
    with FakeDiscord() as server:
        yield server
