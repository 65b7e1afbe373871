"""An exporter whose destination fails forever costs the run store nothing, and loses no run events.

The backend answers 503: per the OTLP/HTTP spec that is retryable (500 is not, and an
``otlphttp`` exporter drops what a 500 refuses, counting it as send_failed).
"""

from __future__ import annotations

import gzip
import re
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

import trainwire
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import CollectorProcess, wait_for

CONFIG = """\
receivers:
  otlp:
    protocols: {{grpc: {{endpoint: "127.0.0.1:0"}}}}
exporters:
  sqlite:
    path: {db_path}
    sending_queue: {{storage: storage}}
  otlphttp/broken:
    endpoint: http://127.0.0.1:%d
    sending_queue: {{storage: storage, queue_size: 5}}
    retry_on_failure: {{initial_interval_s: 0.05, max_interval_s: 0.2, max_elapsed_time_s: 0}}
extensions:
  storage: {{directory: {data_dir}}}
service:
  extensions: [storage]
  pipelines:
    metrics: {{receivers: [otlp], exporters: [sqlite, otlphttp/broken]}}
    logs: {{receivers: [otlp], exporters: [sqlite, otlphttp/broken]}}
  telemetry:
    metrics: {{address: "127.0.0.1:0"}}
"""


class Backend(BaseHTTPRequestHandler):
    """An OTLP/HTTP backend that answers 503 until told to recover; records event names."""

    state: dict[str, Any] = {"fail": True, "events": []}

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.state["fail"]:
            self.send_response(503)
            self.end_headers()
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/v1/logs":
            request = ExportLogsServiceRequest.FromString(body)
            for rl in request.resource_logs:
                for sl in rl.scope_logs:
                    self.state["events"].extend(r.event_name for r in sl.log_records)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _scrape(collector: CollectorProcess) -> str:
    line = next(line for line in collector.output if "prometheus listening on" in line)
    port = int(re.search(r":(\d+)\s*$", line.strip()).group(1))  # type: ignore[union-attr]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def _value(name: str, text: str) -> float:
    match = re.search(rf'^{name}{{exporter="otlphttp/broken"}} (\S+)$', text, re.MULTILINE)
    assert match, f"{name} not exposed"
    return float(match.group(1))


def test_failing_exporter_neither_slows_the_store_nor_drops_run_events(tmp_path: Path) -> None:
    """With one exporter's backend answering 503 forever, every point still reaches the store, that exporter's queue stays bounded with drops counted, and its run start/end events arrive once the backend recovers."""
    Backend.state = {"fail": True, "events": []}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = CONFIG % server.server_address[1]
    try:
        with CollectorProcess(tmp_path / "c", config=config) as collector:
            with trainwire.init(name="resilient", endpoint=collector.endpoint) as run:
                for batch in range(30):
                    for step in range(10):
                        run.log({"loss": float(batch * 10 + step)}, step=batch * 10 + step)
                    assert run.flush(timeout_s=10), "ingestion was slowed by the failing exporter"
            with StoreReader(collector.db_path) as store:
                assert store.run(run.id).status == "completed"
                assert len(store.points(run.id, "loss")) == 300
            text = _scrape(collector)
            assert _value("otelcol_exporter_queue_size", text) <= 7
            assert _value("otelcol_exporter_queue_dropped_requests_total", text) >= 20
            Backend.state["fail"] = False
            assert wait_for(lambda: "ml.run.end" in Backend.state["events"], 30)
            assert "ml.run.start" in Backend.state["events"]
    finally:
        server.shutdown()
