"""What each mode deploys: the gateway's single writer, the agent's host access, the sidecar."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from trainwire.collector.cli import collector

pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")
kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed"
)

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "trainwire"
EXAMPLES = REPO / "helm" / "examples"
DASHBOARD_SOURCE = REPO / "deploy" / "grafana" / "trainwire-dashboard.json"
AGENT = {"mode": "agent", "agent": {"gatewayEndpoint": "trainwire.trainwire.svc:4317"}}
SIDECAR = yaml.safe_load((CHART / "ci" / "sidecar-values.yaml").read_text())


def _spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def test_gateway_is_one_replica_recreated_on_a_read_write_once_volume(render: Any) -> None:
    """The gateway is one pod, replaced (never doubled) on upgrade, its store on an RWO claim."""
    docs = render({})
    deployment = docs.one("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    claim = docs.one("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    volumes = {v["name"]: v for v in _spec(deployment)["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    config = docs.config()
    assert config["exporters"]["sqlite"]["path"].startswith("/var/lib/trainwire/")
    (container,) = _spec(deployment)["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["data"] == "/var/lib/trainwire"


def test_gateway_service_exposes_otlp_api_and_metrics(render: Any) -> None:
    """The gateway's Service serves OTLP gRPC/HTTP, the API and UI, and Prometheus /metrics."""
    docs = render({})
    ports = {p["name"]: p["port"] for p in docs.one("Service")["spec"]["ports"]}
    assert ports == {
        "otlp-grpc": 4317,
        "otlp-http": 4318,
        "api": 8080,
        "metrics": 9464,
        "telemetry": 8888,
    }
    config = docs.config()
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert config["exporters"]["sqlite"]["api"]["endpoint"] == "0.0.0.0:8080"
    assert config["exporters"]["prometheus"]["endpoint"] == "0.0.0.0:9464"
    # Run events give the exporter each run's name and end (crash ends from liveness too).
    pipelines = config["service"]["pipelines"]
    for pipeline in ("metrics", "logs", "logs/liveness"):
        assert "prometheus" in pipelines[pipeline]["exporters"]


def test_ingress_routes_to_the_api_port(render: Any) -> None:
    """The optional Ingress sends its host's traffic to the Service's API port."""
    values = yaml.safe_load((CHART / "ci" / "gateway-ingress-values.yaml").read_text())
    docs = render(values)
    (rule,) = docs.one("Ingress")["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": docs.one("Service")["metadata"]["name"], "port": {"name": "api"}}


@pytest.mark.parametrize("values", [{}, AGENT, SIDECAR], ids=["gateway", "agent", "sidecar"])
def test_collector_runs_locked_down_and_probed_on_the_health_check(
    render: Any, values: dict[str, Any]
) -> None:
    """Every collector container runs as non-root on a read-only root with no capabilities,
    and its probes hit the health_check extension."""
    docs = render(values)
    workload = next(d for d in docs if d["kind"] in {"Deployment", "DaemonSet", "Job"})
    spec = _spec(workload)
    collectors = [
        c
        for c in spec.get("initContainers", []) + spec["containers"]
        if c["name"] in {"collector", "trainwire"}
    ]
    (container,) = collectors
    security = {**spec.get("securityContext", {}), **container["securityContext"]}
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probes = [
        container[k] for k in ("livenessProbe", "readinessProbe", "startupProbe") if k in container
    ]
    assert probes
    # A slow start (the gateway migrating its store) is given minutes before liveness may
    # restart it; the sidecar's queue opens at once and training waits on it, so it is asked
    # every second.
    startup = container["startupProbe"]
    least = 60 if values is SIDECAR else 300
    assert startup["periodSeconds"] * startup["failureThreshold"] >= least
    for probe in probes:
        assert ports[probe["httpGet"]["port"]] == 13133
    assert docs.config()["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133"


def test_agent_sees_gpus_and_host_and_forwards_to_the_gateway(render: Any) -> None:
    """The agent is a DaemonSet with the NVIDIA runtime and every GPU, the host's PIDs and
    root filesystem read-only, sending all it gets to the gateway."""
    docs = render(AGENT)
    spec = _spec(docs.one("DaemonSet"))
    assert spec["runtimeClassName"] == "nvidia"
    assert spec["hostPID"] is True
    (container,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert "nvidia.com/gpu" not in container["resources"].get("limits", {})
    (hostfs,) = [m for m in container["volumeMounts"] if m["name"] == "hostfs"]
    assert hostfs["readOnly"] is True
    config = docs.config()
    assert set(config["receivers"]) == {"otlp", "nvml", "hostmetrics"}
    # GPU and host series are named after the node, not the agent pod.
    node = {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert {"name": "K8S_NODE_NAME", "valueFrom": node} in container["env"]
    for receiver in ("nvml", "hostmetrics"):
        assert config["receivers"][receiver]["host_name"] == "${env:K8S_NODE_NAME}"
        # The host's proc and mounts, where the DaemonSet mounts the host's /.
        assert config["receivers"][receiver]["root_path"] == hostfs["mountPath"]
    assert config["exporters"]["otlp/gateway"]["endpoint"] == "trainwire.trainwire.svc:4317"
    for pipeline in config["service"]["pipelines"].values():
        assert pipeline["exporters"][0] == "otlp/gateway"
    # The run ranks it hears of are listed for the receivers; crashes are the gateway's.
    assert config["connectors"]["liveness"]["declare"] is False
    pipelines = config["service"]["pipelines"]
    assert "liveness" in pipelines["metrics"]["exporters"]
    assert "liveness" in pipelines["logs"]["exporters"]
    assert docs.one("Service")["spec"]["internalTrafficPolicy"] == "Local"


def test_agent_without_gpus_has_no_nvidia_runtime(render: Any) -> None:
    """gpu.enabled: false drops the NVML receiver and the NVIDIA runtime class (CPU nodes)."""
    docs = render({**AGENT, "agent": {**AGENT["agent"], "gpu": {"enabled": False}}})
    assert "runtimeClassName" not in _spec(docs.one("DaemonSet"))
    assert "nvml" not in docs.config()["receivers"]


def test_agent_queue_outlives_the_pod_on_a_host_path(render: Any) -> None:
    """By default the agent's queue is an emptyDir; with agent.queue.hostPath it is that
    directory of the node, handed to the collector's user by an init container that may
    only chown, before the collector (which never runs as root) starts."""
    default = _spec(render(AGENT).one("DaemonSet"))
    assert {v["name"]: v for v in default["volumes"]}["data"] == {"name": "data", "emptyDir": {}}
    assert "initContainers" not in default
    values = {**AGENT, "agent": {**AGENT["agent"], "queue": {"hostPath": "/var/lib/tw-agent"}}}
    spec = _spec(render(values).one("DaemonSet"))
    data = {v["name"]: v for v in spec["volumes"]}["data"]
    assert data["hostPath"] == {"path": "/var/lib/tw-agent", "type": "DirectoryOrCreate"}
    (owner,) = spec["initContainers"]
    user = f"{spec['securityContext']['runAsUser']}:{spec['securityContext']['runAsGroup']}"
    assert owner["command"] == ["chown", user, "/var/lib/trainwire"]
    assert owner["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert {"name": "data", "mountPath": "/var/lib/trainwire"} in owner["volumeMounts"]
    (collector_container,) = spec["containers"]
    assert "runAsUser" not in collector_container["securityContext"]
    assert spec["securityContext"]["runAsNonRoot"] is True


def test_sidecar_is_a_native_sidecar_of_the_job(render: Any) -> None:
    """In the example Job the collector is an init container with restartPolicy: Always, its
    config is the release's ConfigMap, and training sends to it on the pod's loopback."""
    docs = render(SIDECAR, name="trainwire-sidecar")
    spec = _spec(docs.one("Job"))
    (sidecar,) = spec["initContainers"]
    assert sidecar["restartPolicy"] == "Always"
    (train,) = spec["containers"]
    assert {"name": "TRAINWIRE_ENDPOINT", "value": "http://localhost:4317"} in train["env"]
    # The run names its pod (for the agent's GPU process matching); $(POD_UID) expands only
    # because POD_UID comes earlier in the list.
    names = [e["name"] for e in train["env"]]
    pod_uid = train["env"][names.index("POD_UID")]
    assert pod_uid["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.uid"}}
    attributes = train["env"][names.index("OTEL_RESOURCE_ATTRIBUTES")]
    assert attributes["value"] == "k8s.pod.uid=$(POD_UID)"
    assert names.index("POD_UID") < names.index("OTEL_RESOURCE_ATTRIBUTES")
    volumes = {v["name"]: v for v in spec["volumes"]}
    configmap = next(d for d in docs.of_kind("ConfigMap") if "config.yaml" in d["data"])
    assert volumes["trainwire-config"]["configMap"]["name"] == configmap["metadata"]["name"]
    config = docs.config()
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "localhost:4317"
    drain = config["exporters"]["otlp/gateway"]["sending_queue"]["drain_timeout_s"]
    assert drain < spec["terminationGracePeriodSeconds"]
    assert (
        not docs.of_kind("Deployment")
        and not docs.of_kind("DaemonSet")
        and not docs.of_kind("Service")
    )


def _example_pods() -> list[tuple[str, dict[str, Any]]]:
    job = yaml.safe_load((EXAMPLES / "training-job.yaml").read_text())
    pytorchjob = yaml.safe_load((EXAMPLES / "pytorchjob.yaml").read_text())
    pods = [("training-job.yaml", job["spec"]["template"])]
    for role, replica in pytorchjob["spec"]["pytorchReplicaSpecs"].items():
        pods.append((f"pytorchjob.yaml {role}", replica["template"]))
    return pods


@pytest.mark.parametrize(
    ("where", "template"), _example_pods(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_example_pods_carry_the_chart_sidecar(
    render: Any, where: str, template: dict[str, Any]
) -> None:
    """helm/examples' Job and PyTorchJob pods are valid and carry exactly the sidecar, volumes
    and training environment (endpoint, pod uid) the chart's trainwire.sidecar templates
    render."""
    kubernetes_validate.validate(
        {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": "x"},
            "template": template,
        },
        "1.29.0",
        strict=True,
    )
    rendered = _spec(render(SIDECAR, name="trainwire-sidecar").one("Job"))
    spec = template["spec"]
    assert spec["initContainers"] == rendered["initContainers"], where
    assert spec["volumes"] == rendered["volumes"], where
    (train,) = rendered["containers"]
    for container in spec["containers"]:
        assert container["env"][: len(train["env"])] == train["env"], where


def test_discord_webhook_comes_from_a_secret(render: Any) -> None:
    """With discord enabled, the webhook URL reaches the collector only through a Secret."""
    docs = render(
        {"discord": {"enabled": True, "webhookUrl": "https://discord.com/api/webhooks/1/t0ken"}}
    )
    secret = docs.one("Secret")
    (container,) = _spec(docs.one("Deployment"))["containers"]
    (env,) = [e for e in container["env"] if e["name"] == "DISCORD_WEBHOOK_URL"]
    assert env["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    assert "t0ken" not in docs.config_text()
    assert docs.config()["exporters"]["discord"]["webhook_url"] == "${env:DISCORD_WEBHOOK_URL}"
    existing = render(
        {"discord": {"enabled": True, "existingSecret": "hook", "existingSecretKey": "url"}}
    )
    assert not existing.of_kind("Secret")
    (container,) = _spec(existing.one("Deployment"))["containers"]
    (env,) = [e for e in container["env"] if e["name"] == "DISCORD_WEBHOOK_URL"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "hook", "key": "url"}


def test_config_values_are_laid_over_the_rendered_config(render: Any) -> None:
    """`config:` in values changes the rendered collector config and rolls the pods."""
    default = render({})
    tuned = render({"config": {"processors": {"memory_limiter": {"limit_percentage": 70}}}})
    assert tuned.config()["processors"]["memory_limiter"]["limit_percentage"] == 70
    assert tuned.config()["processors"]["memory_limiter"]["check_interval_s"] == 1
    checksum = "checksum/config"
    before = default.one("Deployment")["spec"]["template"]["metadata"]["annotations"][checksum]
    after = tuned.one("Deployment")["spec"]["template"]["metadata"]["annotations"][checksum]
    assert before != after


def test_service_monitor_scrapes_metrics_and_self_telemetry(render: Any) -> None:
    """The optional ServiceMonitor selects the gateway Service and scrapes its metrics ports."""
    docs = render({"serviceMonitor": {"enabled": True, "extraLabels": {"release": "kps"}}})
    monitor = docs.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics", "telemetry"]
    service_labels = docs.one("Service")["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()


def test_dashboard_configmap_carries_the_grafana_dashboard(render: Any) -> None:
    """The gateway ships the Grafana dashboard in a ConfigMap labelled grafana_dashboard: "1",
    identical to deploy/grafana/trainwire-dashboard.json."""
    source = DASHBOARD_SOURCE.read_text()
    assert (CHART / "files" / "trainwire-dashboard.json").read_text() == source, (
        "helm/trainwire/files/trainwire-dashboard.json differs from deploy/grafana/; copy it again"
    )
    (configmap,) = [
        d for d in render({}).of_kind("ConfigMap") if d["metadata"]["name"].endswith("-dashboard")
    ]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["data"]["trainwire-dashboard.json"].strip() == source.strip()


def test_image_tag_follows_the_chart_and_package_versions() -> None:
    """values.yaml's image tag, Chart.yaml's appVersion and pyproject's version agree."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    version = re.search(r'^version = "(.+)"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert version is not None
    assert values["image"]["tag"] == chart["appVersion"] == version.group(1)
    example_images = re.findall(
        r"image: (\S*trainwire\S*)", (EXAMPLES / "training-job.yaml").read_text()
    )
    assert example_images == [f"{values['image']['repository']}:{chart['appVersion']}"]


def test_operator_example_config_passes_collector_validate(tmp_path: Path) -> None:
    """The OpenTelemetryCollector example's config passes `trainwire collector validate`,
    and forwards to the gateway the other examples name."""
    example = yaml.safe_load((EXAMPLES / "opentelemetry-operator-sidecar.yaml").read_text())
    assert example["spec"]["mode"] == "sidecar"
    config = example["spec"]["config"]
    assert config["exporters"]["otlp/gateway"]["endpoint"] == SIDECAR["sidecar"]["gatewayEndpoint"]
    text = yaml.safe_dump(config).replace("/tmp/trainwire", str(tmp_path / "state"))
    path = tmp_path / "collector.yaml"
    path.write_text(text)
    result = CliRunner().invoke(collector, ["validate", f"--config={path}"])
    assert result.exit_code == 0, result.output


def test_parent_chart_includes_the_sidecar_templates(tmp_path: Path) -> None:
    """helm/examples/training-chart, which depends on this chart, renders a valid Job whose
    native sidecar mounts the ConfigMap its trainwire subchart renders."""
    helm = pytest.importorskip("helm_python")
    parent = tmp_path / "training-chart"
    shutil.copytree(EXAMPLES / "training-chart", parent)
    shutil.copytree(CHART, parent / "charts" / "trainwire")  # what `helm dependency build` does
    out = helm.Chart.load(parent).render({}, name="train-resnet", namespace="ml", is_install=True)
    docs = [
        d
        for path, text in out.items()
        if path.endswith(".yaml")
        for d in yaml.safe_load_all(text)
        if d
    ]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.29.0", strict=True)
    (job,) = [d for d in docs if d["kind"] == "Job"]
    (configmap,) = [d for d in docs if d["kind"] == "ConfigMap"]
    spec = _spec(job)
    assert [c["restartPolicy"] for c in spec["initContainers"]] == ["Always"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["trainwire-config"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert {"name": "TRAINWIRE_ENDPOINT", "value": "http://localhost:4317"} in spec["containers"][
        0
    ]["env"]
