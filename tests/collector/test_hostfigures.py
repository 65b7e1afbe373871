"""The latest host and GPU figures of a host, as an exporter asks for them."""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire._system import SystemSampler
from trainwire.anyvalue import to_attributes
from trainwire.collector.hostfigures import (
    GpuFigures,
    HostFigures,
    HostFiguresTracker,
    format_figures,
)

GIB = 1024**3
UUID0 = "GPU-11111111-2222-3333-4444-555555555555"
UUID1 = "GPU-66666666-7777-8888-9999-000000000000"


def request(host: str | None, points: list[tuple[str, float, dict[str, Any], int]]) -> Any:
    """One request from `host` with gauge points (name, value, attributes, time)."""
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    if host is not None:
        rm.resource.attributes.extend(to_attributes({semconv.HOST_NAME: host}))
    sm = rm.scope_metrics.add()
    for name, value, attrs, t in points:
        point = sm.metrics.add(name=name).gauge.data_points.add(time_unix_nano=t)
        if isinstance(value, int):
            point.as_int = value
        else:
            point.as_double = value
        point.attributes.extend(to_attributes(attrs))
    return req


def gpu(uuid: str, **extra: Any) -> dict[str, Any]:
    return {semconv.HW_ID: uuid, semconv.HW_TYPE: "gpu", **extra}


def node_request(t: int = 10) -> Any:
    return request(
        "node-7",
        [
            (semconv.SYSTEM_CPU_UTILIZATION, 0.42, {}, t),
            (semconv.SYSTEM_CPU_UTILIZATION, 0.99, {semconv.CPU_LOGICAL_NUMBER: 0}, t),
            (
                semconv.SYSTEM_MEMORY_USAGE,
                int(12.3 * GIB),
                {semconv.SYSTEM_MEMORY_STATE: "used"},
                t,
            ),
            (semconv.SYSTEM_MEMORY_USAGE, 50 * GIB, {semconv.SYSTEM_MEMORY_STATE: "free"}, t),
            (semconv.SYSTEM_MEMORY_LIMIT, 64 * GIB, {}, t),
            (semconv.HW_GPU_UTILIZATION, 0.98, gpu(UUID0, **{semconv.HW_GPU_TASK: "general"}), t),
            (semconv.HW_GPU_UTILIZATION, 0.5, gpu(UUID0, **{semconv.HW_GPU_TASK: "encoder"}), t),
            (semconv.HW_GPU_MEMORY_USAGE, 38 * GIB, gpu(UUID0, **{semconv.HW_NAME: "H100"}), t),
            (semconv.HW_GPU_MEMORY_LIMIT, 80 * GIB, gpu(UUID0), t),
            (semconv.HW_TEMPERATURE, 71, gpu(UUID0), t),
            (semconv.HW_POWER, 301.4, gpu(UUID0), t),
            (semconv.HW_GPU_UTILIZATION, 0.0, gpu(UUID1), t),
        ],
    )


def test_latest_gives_cpu_memory_and_each_gpu_of_the_host() -> None:
    """After one request, latest() gives the host's CPU, memory and every GPU's figures."""
    tracker = HostFiguresTracker()
    tracker.observe(node_request())
    figures = tracker.latest("node-7")
    assert figures == HostFigures(
        host="node-7",
        time_unix_nano=10,
        cpu_utilization=0.42,
        memory_utilization=int(12.3 * GIB) / (64 * GIB),
        memory_used_bytes=int(12.3 * GIB),
        memory_total_bytes=64 * GIB,
        gpus=(
            GpuFigures(UUID0, "H100", 0.98, 38 * GIB, 80 * GIB, 71.0, 301.4),
            GpuFigures(UUID1, utilization=0.0),
        ),
    )
    assert tracker.hosts() == ["node-7"]


def test_format_figures_prints_one_line() -> None:
    """The formatter prints CPU, RAM and per-GPU figures on one line."""
    tracker = HostFiguresTracker()
    tracker.observe(node_request())
    figures = tracker.latest("node-7")
    assert figures is not None
    assert format_figures(figures) == (
        "CPU 42% · RAM 12.3/64 GiB · GPU0 98% 71°C 38/80 GiB 301 W · GPU1 0%"
    )


def test_format_figures_leaves_out_what_was_not_reported() -> None:
    """Missing values are left out; memory falls back to a percentage; nothing gives ''."""
    assert format_figures(HostFigures("h", 1, memory_utilization=0.5)) == "RAM 50%"
    assert format_figures(HostFigures("h", 1, gpus=(GpuFigures("g"),))) == ""


def test_unknown_host_and_requests_without_host_name() -> None:
    """A host never seen gives None; points without a host.name resource are ignored."""
    tracker = HostFiguresTracker()
    tracker.observe(request(None, [(semconv.SYSTEM_CPU_UTILIZATION, 0.5, {}, 1)]))
    assert tracker.latest("node-7") is None
    assert tracker.hosts() == []


def test_an_older_point_never_replaces_a_newer_one() -> None:
    """Points arriving out of order keep the newest value of each figure."""
    tracker = HostFiguresTracker()
    tracker.observe(request("h", [(semconv.SYSTEM_CPU_UTILIZATION, 0.9, {}, 20)]))
    tracker.observe(request("h", [(semconv.SYSTEM_CPU_UTILIZATION, 0.1, {}, 10)]))
    tracker.observe(request("h", [(semconv.SYSTEM_MEMORY_UTILIZATION, 0.3, {}, 5)]))
    figures = tracker.latest("h")
    assert figures is not None
    assert (figures.cpu_utilization, figures.memory_utilization) == (0.9, 0.3)
    assert figures.time_unix_nano == 20


def test_hosts_are_kept_apart() -> None:
    """Figures of one host never show up under another."""
    tracker = HostFiguresTracker()
    tracker.observe(request("a", [(semconv.SYSTEM_CPU_UTILIZATION, 0.1, {}, 1)]))
    tracker.observe(request("b", [(semconv.SYSTEM_CPU_UTILIZATION, 0.2, {}, 1)]))
    assert [tracker.latest(h).cpu_utilization for h in ("a", "b")] == [0.1, 0.2]  # type: ignore[union-attr]
    assert tracker.hosts() == ["a", "b"]


def test_non_gpu_hardware_and_per_core_points_are_not_taken_as_totals() -> None:
    """A CPU's hw.temperature and per-core utilization leave the host's figures alone."""
    tracker = HostFiguresTracker()
    tracker.observe(
        request(
            "h",
            [
                (semconv.HW_TEMPERATURE, 90, {semconv.HW_ID: "cpu0", semconv.HW_TYPE: "cpu"}, 1),
                (semconv.SYSTEM_CPU_UTILIZATION, 1.0, {semconv.CPU_LOGICAL_NUMBER: 3}, 1),
            ],
        )
    )
    assert tracker.latest("h") == HostFigures("h", 0)


def test_the_sdk_system_metrics_feed_the_tracker() -> None:
    """A run's own system metrics (init(system_metrics=True)) give its host's CPU and RAM."""
    resource = Resource(attributes=to_attributes({semconv.HOST_NAME: "trainer-1"}))
    sent: list[Any] = []
    sampler = SystemSampler(resource, sent.append, interval_s=3600)
    assert sampler.start()
    sampler.stop()  # takes one last sample
    tracker = HostFiguresTracker()
    for encoded in sent:
        tracker.observe(ExportMetricsServiceRequest.FromString(encoded.payload))
    figures = tracker.latest("trainer-1")
    assert figures is not None
    assert figures.cpu_utilization is not None and 0 <= figures.cpu_utilization <= 1
    assert figures.memory_utilization is not None and 0 < figures.memory_utilization < 1


def test_observe_is_safe_from_several_threads() -> None:
    """Requests observed from several threads at once all land."""
    tracker = HostFiguresTracker()

    def feed(host: str) -> None:
        for t in range(1, 201):
            tracker.observe(request(host, [(semconv.SYSTEM_CPU_UTILIZATION, t / 200, {}, t)]))

    threads = [threading.Thread(target=feed, args=(f"h{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tracker.hosts() == ["h0", "h1", "h2", "h3"]
    assert all(tracker.latest(h).cpu_utilization == 1.0 for h in tracker.hosts())  # type: ignore[union-attr]


def run_request(run_id: str, pod: str) -> Any:
    """A run's own metrics from inside a pod: its host.name is the pod's name."""
    req = request(pod, [("loss", 0.5, {}, 10)])
    req.resource_metrics[0].resource.attributes.extend(to_attributes({semconv.ML_RUN_ID: run_id}))
    return req


def test_a_runs_pod_name_gives_the_figures_of_the_node_running_its_processes() -> None:
    """In Kubernetes the run says host.name=<pod>; the agent on node-7 attributed the run's
    GPU process, so latest(<pod>) is node-7's figures. Another pod's run stays unknown."""
    tracker = HostFiguresTracker()
    tracker.observe(node_request())
    tracker.observe(run_request("run-1", "trainer-0"))
    tracker.observe(run_request("run-2", "trainer-9"))
    assert tracker.latest("trainer-0") is None  # nothing says where its processes run yet
    process = {semconv.PROCESS_PID: 4242, semconv.ML_RUN_ID: "run-1", semconv.HW_ID: UUID0}
    tracker.observe(
        request("node-7", [(semconv.NVML_GPU_PROCESS_MEMORY_USAGE, 2 * GIB, process, 11)])
    )
    figures = tracker.latest("trainer-0")
    assert figures is not None and figures == tracker.latest("node-7")
    assert figures.host == "node-7" and figures.cpu_utilization == 0.42
    assert tracker.latest("trainer-9") is None


def test_a_runs_pod_uid_ties_it_to_its_node_when_no_run_is_known_there() -> None:
    """An agent that knows no run still puts k8s.pod.uid on GPU processes; the run's
    Resource has its pod uid, so latest(<pod name>) is that node's figures."""
    pod_uid = "0b5c7e1a-3f2d-4c55-9a1e-6d3b2f4a8c90"
    tracker = HostFiguresTracker()
    tracker.observe(node_request())
    own = run_request("run-1", "trainer-0")
    own.resource_metrics[0].resource.attributes.extend(
        to_attributes({semconv.K8S_POD_UID: pod_uid})
    )
    tracker.observe(own)
    assert tracker.latest("trainer-0") is None
    process = {semconv.PROCESS_PID: 4242, semconv.K8S_POD_UID: pod_uid, semconv.HW_ID: UUID0}
    tracker.observe(
        request("node-7", [(semconv.NVML_GPU_PROCESS_MEMORY_USAGE, 2 * GIB, process, 11)])
    )
    figures = tracker.latest("trainer-0")
    assert figures is not None and figures.host == "node-7"
