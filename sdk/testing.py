"""Helpers for testing code that uses trainwire: a real collector process on loopback.

::

    with CollectorProcess(tmp_path) as collector:
        run = trainwire.init(endpoint=collector.endpoint)
        ...
    StoreReader(collector.db_path).runs()
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "DEFAULT_TEST_CONFIG",
    "CollectorProcess",
    "ComponentHost",
    "clean_environment",
    "free_port",
    "wait_for",
]

DEFAULT_TEST_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
exporters:
  sqlite:
    path: {db_path}
    sending_queue:
      storage: storage
extensions:
  storage:
    directory: {data_dir}
service:
  extensions: [storage]
  pipelines:
    metrics: {{receivers: [otlp], exporters: [sqlite]}}
    logs: {{receivers: [otlp], exporters: [sqlite]}}
"""
_LISTENING = re.compile(r"(grpc|http) listening on (\S+):(\d+)")
_STARTED = "collector started"


class CollectorProcess:
    """``trainwire collector`` as a child process, on a free loopback port.

    The config is written to ``directory/otel-config.yaml`` (from ``config``, a
    template with ``{db_path}`` and ``{data_dir}``) unless it already exists there.
    ``start`` returns once every component has started; ``port`` and ``http_port``
    are the OTLP receiver's gRPC and HTTP ports (None for a protocol not configured).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        config: str = DEFAULT_TEST_CONFIG,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.db_path = self.directory / "collector.db"
        self.data_dir = self.directory / "data"
        self.config_path = self.directory / "otel-config.yaml"
        self._config = config
        self._start_timeout_s = start_timeout_s
        self.port: int | None = None
        self.http_port: int | None = None
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._ready = threading.Event()
        self._started = False

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT`` of the OTLP gRPC receiver."""
        if self.port is None:
            raise RuntimeError("the collector is not running")
        return f"127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the OTLP/HTTP receiver."""
        if self.http_port is None:
            raise RuntimeError("the collector is not running, or has no http receiver")
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> CollectorProcess:
        """Start the process and wait until every component has started."""
        if not self.config_path.exists():
            self.config_path.write_text(
                self._config.format(db_path=self.db_path, data_dir=self.data_dir)
            )
        # A fresh event per process: the previous process's reader, still draining its
        # last output, must not wake this start.
        ready = self._ready = threading.Event()
        self._started = False
        self.port = self.http_port = None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trainwire", "collector", "--config", str(self.config_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.directory,
        )
        threading.Thread(target=self._read_output, args=(self.process, ready), daemon=True).start()
        ready.wait(self._start_timeout_s)
        if not self._started or (self.port is None and self.http_port is None):
            self.kill()
            raise RuntimeError("collector did not start:\n" + "".join(self.output[-40:]))
        return self

    def _read_output(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)
            if process is not self.process:
                continue  # a previous process's last words must not start the new one
            match = _LISTENING.search(line)
            if match and not ready.is_set():
                if match.group(1) == "grpc" and self.port is None:
                    self.port = int(match.group(3))
                elif match.group(1) == "http" and self.http_port is None:
                    self.http_port = int(match.group(3))
            if _STARTED in line:
                self._started = True
                ready.set()
        ready.set()  # the process ended: whoever waits on its start must stop waiting

    def stop(self, timeout_s: float = 30.0) -> int:
        """Send SIGTERM and wait; return the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError("collector did not stop within its deadline after SIGTERM") from None

    def kill(self) -> None:
        """SIGKILL the process (a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> CollectorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.stop()
            finally:
                self.kill()


def wait_for(condition: object, timeout_s: float = 10.0, interval_s: float = 0.05) -> bool:
    """Poll ``condition()`` until truthy or ``timeout_s``; return its last truthiness."""
    end = time.monotonic() + timeout_s
    while True:
        if callable(condition) and condition():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(interval_s)


class ComponentHost:
    """The collector Host one component sees when a test starts it on its own: a real
    telemetry registry, the given extensions by id (``storage`` the usual one), and the
    status reports it made (``reports``)."""

    def __init__(self, storage: Any = None, **extensions: Any) -> None:
        from trainwire.collector.component import ComponentID
        from trainwire.collector.telemetry import Telemetry

        self.telemetry = Telemetry()
        self.storage = storage
        self._extensions = {ComponentID.parse(k): v for k, v in extensions.items()}
        if storage is not None:
            self._extensions[ComponentID("storage")] = storage
        self.reports: list[tuple[Any, str]] = []

    def report_status(self, component: Any, message: str) -> None:
        """Keep a component's status report."""
        self.reports.append((component, message))

    def get_extension(self, component: Any) -> Any:
        """The extension with this id, or None."""
        return self._extensions.get(component)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a fixed-port restart)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(*more_prefixes: str) -> dict[str, str]:
    """``os.environ`` without trainwire's and OpenTelemetry's settings, for a child process."""
    prefixes = ("TRAINWIRE_", "OTEL_", *more_prefixes)
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
