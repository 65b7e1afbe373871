"""The latest host and GPU figures of each host, read off the metrics passing by.

A :class:`HostFiguresTracker` observes OTLP metric requests (from the hostmetrics and
nvml receivers, or a run's own system metrics) and keeps, per ``host.name`` resource
attribute, the newest CPU, memory and per-GPU values, so that an exporter can print
them beside a run's metrics::

    tracker = HostFiguresTracker()
    tracker.observe(request)  # for every ExportMetricsServiceRequest
    figures = tracker.latest("node-7")
    if figures is not None:
        print(format_figures(figures))  # CPU 42% · RAM 12.3/64 GiB · GPU0 98% 71°C 38/80 GiB

It is safe to use from several threads. Each figure keeps the value of its newest
point, so data arriving out of order never replaces a newer value with an older one.

In a Kubernetes pod a run's ``host.name`` is the pod's name while the node's agent
names its points after the node. When the agent's receivers put a process of the run
on that node (``ml.run.id``, or the run's ``k8s.pod.uid``, on a process point) and the
run's own points were seen with its ``host.name``, :meth:`HostFiguresTracker.latest`
of that name gives the node's figures.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from trainwire import semconv
from trainwire.collector.hostfigures_format import format_figures

__all__ = ["GpuFigures", "HostFigures", "HostFiguresTracker", "format_figures"]


@dataclass(frozen=True)
class GpuFigures:
    """The latest values of one GPU; None where nothing was reported."""

    id: str
    """``hw.id``: the GPU's UUID."""
    name: str | None = None
    """``hw.name``, e.g. ``NVIDIA H100 80GB HBM3``."""
    utilization: float | None = None
    """Busy share, 0..1."""
    memory_used_bytes: int | None = None
    memory_limit_bytes: int | None = None
    temperature_c: float | None = None
    power_w: float | None = None


@dataclass(frozen=True)
class HostFigures:
    """The latest values of one host; None where nothing was reported."""

    host: str
    """``host.name``."""
    time_unix_nano: int
    """Time of the newest point behind these figures."""
    cpu_utilization: float | None = None
    """Busy share of all CPUs, 0..1."""
    memory_utilization: float | None = None
    """Used share of memory, 0..1."""
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    gpus: tuple[GpuFigures, ...] = ()
    """In the order the GPUs were first reported (the nvml receiver reports by index)."""


@dataclass
class _Latest:
    """Field name -> (time, value), keeping the newest."""

    values: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def put(self, name: str, time_unix_nano: int, value: Any) -> None:
        old = self.values.get(name)
        if old is None or time_unix_nano >= old[0]:
            self.values[name] = (time_unix_nano, value)

    def get(self, name: str) -> Any:
        entry = self.values.get(name)
        return None if entry is None else entry[1]

    def newest(self) -> int:
        return max((t for t, _ in self.values.values()), default=0)


@dataclass
class _HostState:
    host: _Latest = field(default_factory=_Latest)
    gpus: dict[str, _Latest] = field(default_factory=dict)


def _attrs(key_values: Iterable[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in key_values:
        kind = kv.value.WhichOneof("value")
        if kind is not None:
            out[kv.key] = getattr(kv.value, kind)
    return out


def _points(metric: Any) -> Any:
    kind = metric.WhichOneof("data")
    if kind in ("gauge", "sum"):
        return getattr(metric, kind).data_points
    return ()


def _value(point: Any) -> float | None:
    kind = point.WhichOneof("value")
    if kind == "as_double":
        return float(point.as_double)
    if kind == "as_int":
        return float(point.as_int)
    return None


_GPU_FIELDS = {
    semconv.HW_GPU_MEMORY_USAGE: "memory_used_bytes",
    semconv.HW_GPU_MEMORY_LIMIT: "memory_limit_bytes",
    semconv.HW_TEMPERATURE: "temperature_c",
    semconv.HW_POWER: "power_w",
}
_WATCHED = frozenset(
    {
        semconv.SYSTEM_CPU_UTILIZATION,
        semconv.SYSTEM_MEMORY_UTILIZATION,
        semconv.SYSTEM_MEMORY_USAGE,
        semconv.SYSTEM_MEMORY_LIMIT,
        semconv.HW_GPU_UTILIZATION,
        *_GPU_FIELDS,
    }
)


_RUN_PROCESSES = frozenset({semconv.PROCESS_MEMORY_USAGE, semconv.NVML_GPU_PROCESS_MEMORY_USAGE})
"""Receiver points that name the run a process belongs to."""
_MAX_RUNS = 10_000


class HostFiguresTracker:
    """Keeps the latest host and GPU figures per ``host.name``; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: dict[str, _HostState] = {}
        self._run_of_host: dict[str, str] = {}
        """A run's own ``host.name`` (a pod's name) -> its ``ml.run.id``."""
        self._node_of_run: dict[str, str] = {}
        """``ml.run.id`` -> the ``host.name`` of the receivers that saw its processes."""
        self._pod_of_host: dict[str, str] = {}
        """A run's own ``host.name`` -> its ``k8s.pod.uid``."""
        self._node_of_pod: dict[str, str] = {}
        """``k8s.pod.uid`` -> the ``host.name`` of the receivers that saw its processes."""

    def observe(self, request: ExportMetricsServiceRequest) -> None:
        """Take the figures out of one metrics request; other metrics are ignored."""
        for rm in request.resource_metrics:
            resource = _attrs(rm.resource.attributes)
            host = resource.get(semconv.HOST_NAME)
            if not isinstance(host, str) or not host:
                continue
            run_id = resource.get(semconv.ML_RUN_ID)
            if isinstance(run_id, str) and self._run_of_host.get(host) != run_id:
                with self._lock:
                    _remember(self._run_of_host, host, run_id)
            pod = resource.get(semconv.K8S_POD_UID)
            if isinstance(pod, str) and run_id is not None and self._pod_of_host.get(host) != pod:
                with self._lock:
                    _remember(self._pod_of_host, host, pod)
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name in _WATCHED:
                        self._observe_metric(host, metric)
                    elif metric.name in _RUN_PROCESSES and run_id is None:
                        self._observe_processes(host, metric)

    def _observe_processes(self, host: str, metric: Any) -> None:
        for point in _points(metric):
            for kv in point.attributes:
                if kv.key == semconv.ML_RUN_ID:
                    mapping = self._node_of_run
                elif kv.key == semconv.K8S_POD_UID:
                    mapping = self._node_of_pod
                else:
                    continue
                if mapping.get(kv.value.string_value) != host:
                    with self._lock:
                        _remember(mapping, kv.value.string_value, host)

    def _observe_metric(self, host: str, metric: Any) -> None:
        name = metric.name
        for point in _points(metric):
            value = _value(point)
            if value is None:
                continue
            attrs = _attrs(point.attributes)
            t = point.time_unix_nano
            with self._lock:
                state = self._hosts.setdefault(host, _HostState())
                if name.startswith("hw."):
                    self._put_gpu(state, name, attrs, t, value)
                else:
                    self._put_host(state.host, name, attrs, t, value)

    @staticmethod
    def _put_host(latest: _Latest, name: str, attrs: dict[str, Any], t: int, value: float) -> None:
        state = attrs.get(semconv.SYSTEM_MEMORY_STATE, "used")
        if name == semconv.SYSTEM_CPU_UTILIZATION and semconv.CPU_LOGICAL_NUMBER not in attrs:
            latest.put("cpu_utilization", t, value)
        elif name == semconv.SYSTEM_MEMORY_UTILIZATION and state == "used":
            latest.put("memory_utilization", t, value)
        elif name == semconv.SYSTEM_MEMORY_USAGE and state == "used":
            latest.put("memory_used_bytes", t, int(value))
        elif name == semconv.SYSTEM_MEMORY_LIMIT:
            latest.put("memory_total_bytes", t, int(value))

    @staticmethod
    def _put_gpu(state: _HostState, name: str, attrs: dict[str, Any], t: int, value: float) -> None:
        gpu_id = attrs.get(semconv.HW_ID)
        if not isinstance(gpu_id, str):
            return
        if name in (semconv.HW_TEMPERATURE, semconv.HW_POWER) and attrs.get(
            semconv.HW_TYPE
        ) not in (None, "gpu"):
            return
        if name == semconv.HW_GPU_UTILIZATION:
            if attrs.get(semconv.HW_GPU_TASK, "general") != "general":
                return
            field_name = "utilization"
        else:
            field_name = _GPU_FIELDS[name]
        gpu = state.gpus.setdefault(gpu_id, _Latest())
        number = int(value) if field_name.endswith("_bytes") else value
        gpu.put(field_name, t, number)
        hw_name = attrs.get(semconv.HW_NAME)
        if isinstance(hw_name, str):
            gpu.put("name", t, hw_name)

    def latest(self, host: str) -> HostFigures | None:
        """The newest figures of ``host`` (a ``host.name``), or None if never seen.

        For a run's pod name, those of the node whose receivers saw the run's processes.
        """
        with self._lock:
            node = self._node_of_run.get(self._run_of_host.get(host, ""))
            node = node or self._node_of_pod.get(self._pod_of_host.get(host, ""))
            if node is not None and node != host and node in self._hosts:
                host = node
            state = self._hosts.get(host)
            if state is None:
                return None
            h = state.host
            gpus = tuple(
                GpuFigures(
                    id=gpu_id,
                    name=g.get("name"),
                    utilization=g.get("utilization"),
                    memory_used_bytes=g.get("memory_used_bytes"),
                    memory_limit_bytes=g.get("memory_limit_bytes"),
                    temperature_c=g.get("temperature_c"),
                    power_w=g.get("power_w"),
                )
                for gpu_id, g in state.gpus.items()
            )
            newest = max([h.newest(), *(g.newest() for g in state.gpus.values())])
            used, total = h.get("memory_used_bytes"), h.get("memory_total_bytes")
            utilization = h.get("memory_utilization")
            if utilization is None and used is not None and total:
                utilization = used / total
            return HostFigures(
                host=host,
                time_unix_nano=newest,
                cpu_utilization=h.get("cpu_utilization"),
                memory_utilization=utilization,
                memory_used_bytes=used,
                memory_total_bytes=total,
                gpus=gpus,
            )

    def hosts(self) -> list[str]:
        """Every ``host.name`` seen so far, sorted."""
        with self._lock:
            return sorted(self._hosts)


def _remember(mapping: dict[str, str], key: str, value: str) -> None:
    """Set ``key``, forgetting the oldest entry past ``_MAX_RUNS``."""
    mapping.pop(key, None)
    mapping[key] = value
    if len(mapping) > _MAX_RUNS:
        del mapping[next(iter(mapping))]
