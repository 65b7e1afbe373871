"""A real Prometheus server (the ``prometheus`` binary) on loopback, for acceptance tests."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from trainwire.testing import free_port, wait_for


class PrometheusServer:
    """``prometheus`` scraping ``targets`` (job name → port on 127.0.0.1) every second.

    Its own free port and a storage directory under ``directory``; job ``trainwire``
    keeps the labels the exporter writes (``honor_labels``), as the Collector's docs advise.
    """

    def __init__(self, binary: str, directory: Path, targets: dict[str, int]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        jobs = [
            {
                "job_name": job,
                "honor_labels": job == "trainwire",
                "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
            }
            for job, port in targets.items()
        ]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": jobs,
        }
        config_path = directory / "prometheus.yml"
        config_path.write_text(json.dumps(config))  # JSON is YAML
        self.log = (directory / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env={"PATH": os.environ.get("PATH", "")},
        )
        if not wait_for(self._ready, timeout_s=60, interval_s=0.2):
            self.stop()
            raise RuntimeError(
                "prometheus did not become ready:\n" + (directory / "prometheus.log").read_text()
            )

    def _get(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read()) if "/api/" in path else response.status

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("prometheus exited; see its log")
        try:
            return bool(self._get("/-/ready") == 200)
        except OSError:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of ``expr`` now (``[{"metric": {...}, "value": [t, "v"]}]``)."""
        answer = self._get("/api/v1/query", query=expr)
        return list(answer["data"]["result"])

    def label_values(self, label: str, match: str) -> list[str]:
        """Values of ``label`` on the series that ``match``."""
        answer = self._get(f"/api/v1/label/{label}/values", **{"match[]": match})
        return list(answer["data"])

    def targets_up(self) -> bool:
        """Whether every scrape target answered its last scrape."""
        return all(float(r["value"][1]) == 1 for r in self.query("up")) and bool(self.query("up"))

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
