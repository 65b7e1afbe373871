"""The chart's rendered configs run: SDK → agent or sidecar → gateway → store, API, /metrics.

The configs are the ones the ConfigMaps hold, with only what a pod gives them changed:
the mounted volumes become directories under tmp_path, the listen addresses free loopback
ports, and the gateway's Service address the gateway process's port.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

import trainwire
from trainwire.testing import CollectorProcess, free_port, wait_for

pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")

CHART = Path(__file__).resolve().parents[2] / "helm" / "trainwire"
GATEWAY_SERVICE = "trainwire.trainwire.svc:4317"
FORWARDERS = {
    "agent": {"mode": "agent", "agent": {"gatewayEndpoint": GATEWAY_SERVICE}},
    "sidecar": yaml.safe_load((CHART / "ci" / "sidecar-values.yaml").read_text()),
}
_LISTEN = re.compile(r"(?:0\.0\.0\.0|localhost):(\d+)")


def _localize(text: str, directory: Path) -> tuple[str, dict[int, int]]:
    """The config as it would run here; and which free port stands for each pod port."""
    data = directory / "data"
    hostfs = directory / "hostfs"
    hostfs.mkdir(parents=True)
    (hostfs / "proc").symlink_to("/proc")
    ports: dict[int, int] = {}

    def port(match: re.Match[str]) -> str:
        pod_port = int(match.group(1))
        ports.setdefault(pod_port, free_port())
        return f"127.0.0.1:{ports[pod_port]}"

    text = text.replace("/var/lib/trainwire", str(data)).replace("/hostfs", str(hostfs))
    text = text.replace("${env:K8S_NODE_NAME}", "node-1")  # the downward API's spec.nodeName
    return _LISTEN.sub(port, text), ports


def _start(directory: Path, config: str) -> CollectorProcess:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "otel-config.yaml").write_text(config)
    return CollectorProcess(directory).start()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        body = response.read().decode()
    return json.loads(body) if response.headers.get_content_type() == "application/json" else body


@pytest.mark.parametrize("forwarder", sorted(FORWARDERS))
def test_run_reaches_the_gateway_through_the_forwarder(
    render: Any, tmp_path: Path, forwarder: str
) -> None:
    """A run logged to the rendered agent or sidecar config is forwarded to the rendered
    gateway config, which serves it on the query API and on Prometheus /metrics; the
    forwarder drains and exits 0 on SIGTERM."""
    gateway_config, gateway_ports = _localize(render({}).config_text(), tmp_path / "gateway")
    gateway = _start(tmp_path / "gateway", gateway_config)
    try:
        config = render(FORWARDERS[forwarder]).config_text()
        assert GATEWAY_SERVICE in config
        config = config.replace(GATEWAY_SERVICE, gateway.endpoint)
        config, _ = _localize(config, tmp_path / forwarder)
        relay = _start(tmp_path / forwarder, config)
        try:
            with trainwire.init(
                name="deployed", endpoint=relay.endpoint, system_metrics=False
            ) as run:
                for step in range(20):
                    run.log({"loss": 1.0 / (step + 1)}, step=step)
        finally:
            assert relay.stop() == 0, "".join(relay.output[-30:])

        api = f"http://127.0.0.1:{gateway_ports[8080]}/api/runs/{run.id}"

        def stored() -> bool:
            try:
                return bool(_get(api)["status"] == "completed")
            except OSError:
                return False

        assert wait_for(stored, timeout_s=30), "".join(gateway.output[-30:])
        metrics = _get(f"http://127.0.0.1:{gateway_ports[9464]}/metrics")
        assert re.search(r"^loss\{.*\} 0\.05\b", metrics, re.MULTILINE), metrics[:2000]
    finally:
        assert gateway.stop() == 0
