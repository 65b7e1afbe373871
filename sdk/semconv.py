"""The wire contract: every attribute, event and metric name trainwire puts on OTLP.

This is the one module that spells them (see DESIGN.md, "The wire contract").
A run is a Resource; each logged scalar is a Gauge point with a companion
``ml.step`` Gauge point at the same ``time_unix_nano``; everything else about a
run is an event, an OTLP LogRecord with ``event_name`` and ``event.name``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ARTIFACT_KINDS",
    "EVENT_ALERT",
    "EVENT_ARTIFACT",
    "EVENT_CONSOLE",
    "EVENT_NAMES",
    "EVENT_NAME_ATTRIBUTE",
    "EVENT_RUN_END",
    "EVENT_RUN_HEARTBEAT",
    "EVENT_RUN_METRIC_SPEC",
    "EVENT_RUN_PARAMS",
    "EVENT_RUN_RENAME",
    "EVENT_RUN_START",
    "EVENT_RUN_SUMMARY",
    "EVENT_RUN_TAGS",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_STACKTRACE",
    "EXCEPTION_TYPE",
    "HOST_NAME",
    "K8S_POD_UID",
    "LOG_IOSTREAM",
    "LOG_RECORD_UID",
    "METRIC_STEP",
    "ML_EXPERIMENT_NAME",
    "ML_RUN_GROUP",
    "ML_RUN_ID",
    "ML_RUN_NAME",
    "ML_RUN_RANK",
    "ML_RUN_WORLD_SIZE",
    "PROCESS_PID",
    "RUN_STATUSES",
    "SCOPE_NAME",
    "SERVICE_INSTANCE_ID",
    "SERVICE_NAME",
    "STATUS_COMPLETED",
    "STATUS_CRASHED",
    "STATUS_FAILED",
    "STATUS_KILLED",
    "STATUS_RUNNING",
    "TERMINAL_STATUSES",
    "service_instance_id",
    "CPU_LOGICAL_NUMBER",
    "DISK_IO_DIRECTION",
    "ERROR_TYPE",
    "HW_ENERGY",
    "HW_ERRORS",
    "HW_GPU_MEMORY_LIMIT",
    "HW_GPU_MEMORY_USAGE",
    "HW_GPU_MEMORY_UTILIZATION",
    "HW_GPU_TASK",
    "HW_GPU_UTILIZATION",
    "HW_ID",
    "HW_NAME",
    "HW_POWER",
    "HW_TEMPERATURE",
    "HW_TYPE",
    "HW_VENDOR",
    "NETWORK_INTERFACE_NAME",
    "NETWORK_IO_DIRECTION",
    "NVML_GPU_CLOCK_FREQUENCY",
    "NVML_GPU_CLOCK_TYPE",
    "NVML_GPU_FAN_SPEED",
    "NVML_GPU_PCIE_THROUGHPUT",
    "NVML_GPU_POWER_LIMIT",
    "NVML_GPU_PROCESS_MEMORY_USAGE",
    "NVML_GPU_THROTTLE_ACTIVE",
    "NVML_GPU_THROTTLE_REASON",
    "PROCESS_CPU_UTILIZATION",
    "PROCESS_MEMORY_USAGE",
    "PROCESS_THREAD_COUNT",
    "SCOPE_HOSTMETRICS",
    "SCOPE_NVML",
    "SYSTEM_CPU_LOAD_AVERAGE_15M",
    "SYSTEM_CPU_LOAD_AVERAGE_1M",
    "SYSTEM_CPU_LOAD_AVERAGE_5M",
    "SYSTEM_CPU_UTILIZATION",
    "SYSTEM_DEVICE",
    "SYSTEM_DISK_IO",
    "SYSTEM_FILESYSTEM_MOUNTPOINT",
    "SYSTEM_FILESYSTEM_STATE",
    "SYSTEM_FILESYSTEM_TYPE",
    "SYSTEM_FILESYSTEM_USAGE",
    "SYSTEM_FILESYSTEM_UTILIZATION",
    "SYSTEM_MEMORY_LIMIT",
    "SYSTEM_MEMORY_STATE",
    "SYSTEM_MEMORY_USAGE",
    "SYSTEM_MEMORY_UTILIZATION",
    "SYSTEM_NETWORK_IO",
    "SYSTEM_PAGING_STATE",
    "SYSTEM_PAGING_USAGE",
    "SYSTEM_PAGING_UTILIZATION",
]

# --- Resource attributes: the run (immutable for the run's lifetime) ---------------
ML_RUN_ID: Final = "ml.run.id"
"""Unique, stable across resume; shared by every rank of a distributed run."""
ML_EXPERIMENT_NAME: Final = "ml.experiment.name"
ML_RUN_RANK: Final = "ml.run.rank"
ML_RUN_WORLD_SIZE: Final = "ml.run.world_size"
ML_RUN_GROUP: Final = "ml.run.group"
# OpenTelemetry semantic conventions we fill in.
SERVICE_NAME: Final = "service.name"
"""Equals the experiment name unless set."""
SERVICE_INSTANCE_ID: Final = "service.instance.id"
"""``<run id>/<rank>``: one writer per stream (OTel single-writer rule, Prometheus ``instance``)."""
HOST_NAME: Final = "host.name"
PROCESS_PID: Final = "process.pid"
K8S_POD_UID: Final = "k8s.pod.uid"

# --- Metrics -------------------------------------------------------------------------
SCOPE_NAME: Final = "trainwire"
"""Instrumentation scope of the points the SDK makes from ``run.log()``."""
METRIC_STEP: Final = "ml.step"
"""Gauge carrying the step of the ``log()`` call at the same ``time_unix_nano``."""

# --- Events (LogRecords) ---------------------------------------------------------------
EVENT_NAME_ATTRIBUTE: Final = "event.name"
"""Older receivers read the event name from this attribute; newer ones from ``event_name``."""
LOG_RECORD_UID: Final = "log.record.uid"
"""Event identity: set when the record is made, kept through spool and queue."""
LOG_IOSTREAM: Final = "log.iostream"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

EVENT_RUN_START: Final = "ml.run.start"
EVENT_RUN_PARAMS: Final = "ml.run.params"
EVENT_RUN_TAGS: Final = "ml.run.tags"
EVENT_RUN_RENAME: Final = "ml.run.rename"
EVENT_RUN_METRIC_SPEC: Final = "ml.run.metric_spec"
EVENT_RUN_SUMMARY: Final = "ml.run.summary"
EVENT_RUN_HEARTBEAT: Final = "ml.run.heartbeat"
EVENT_RUN_END: Final = "ml.run.end"
EVENT_ARTIFACT: Final = "ml.artifact"
EVENT_ALERT: Final = "ml.alert"
EVENT_CONSOLE: Final = "ml.console"
EVENT_NAMES: Final = frozenset(
    {
        EVENT_RUN_START,
        EVENT_RUN_PARAMS,
        EVENT_RUN_TAGS,
        EVENT_RUN_RENAME,
        EVENT_RUN_METRIC_SPEC,
        EVENT_RUN_SUMMARY,
        EVENT_RUN_HEARTBEAT,
        EVENT_RUN_END,
        EVENT_ARTIFACT,
        EVENT_ALERT,
        EVENT_CONSOLE,
    }
)

ARTIFACT_KINDS: Final = ("file", "model", "text", "figure", "table")

# --- Run statuses (body field ``status`` of ``ml.run.end``) ------------------------------
STATUS_RUNNING: Final = "running"
STATUS_COMPLETED: Final = "completed"
STATUS_FAILED: Final = "failed"
STATUS_KILLED: Final = "killed"
STATUS_CRASHED: Final = "crashed"
TERMINAL_STATUSES: Final = (STATUS_COMPLETED, STATUS_FAILED, STATUS_KILLED, STATUS_CRASHED)
RUN_STATUSES: Final = (STATUS_RUNNING, *TERMINAL_STATUSES)


def service_instance_id(run_id: str, rank: int) -> str:
    """Return the ``service.instance.id`` of one rank of a run."""
    return f"{run_id}/{rank}"


# --- Hardware and host telemetry (the nvml and hostmetrics receivers) -----------------
# OpenTelemetry semantic-convention names wherever one exists (hardware/gpu.md,
# system/system-metrics.md, system/process-metrics.md); our own ``nvml.gpu.*`` names for
# what NVML reports and OTel does not name. The SDK's system metrics
# (``init(system_metrics=True)``, scope ``trainwire.system``) use the same names.
SCOPE_NVML: Final = "trainwire.nvml"
"""Instrumentation scope of the nvml receiver's points."""
SCOPE_HOSTMETRICS: Final = "trainwire.hostmetrics"
"""Instrumentation scope of the hostmetrics receiver's points."""

# Attributes of hardware components.
HW_ID: Final = "hw.id"
"""The GPU's UUID (``GPU-…``): stable across reboots, unlike its index."""
HW_NAME: Final = "hw.name"
HW_VENDOR: Final = "hw.vendor"
HW_TYPE: Final = "hw.type"
"""``gpu`` on the generic ``hw.*`` metrics (temperature, power, errors)."""
HW_GPU_TASK: Final = "hw.gpu.task"
"""``general``, ``encoder`` or ``decoder`` on ``hw.gpu.utilization``."""
ERROR_TYPE: Final = "error.type"
"""``corrected`` or ``uncorrected`` on ``hw.errors`` (ECC errors)."""
NETWORK_IO_DIRECTION: Final = "network.io.direction"
"""``receive`` or ``transmit``."""

# GPU metrics, OpenTelemetry names.
HW_GPU_UTILIZATION: Final = "hw.gpu.utilization"
"""Gauge, unit ``1`` (0..1), per ``hw.gpu.task``."""
HW_GPU_MEMORY_USAGE: Final = "hw.gpu.memory.usage"
"""Gauge, ``By``: memory in use."""
HW_GPU_MEMORY_LIMIT: Final = "hw.gpu.memory.limit"
"""Gauge, ``By``: total memory."""
HW_GPU_MEMORY_UTILIZATION: Final = "hw.gpu.memory.utilization"
"""Gauge, ``1``: usage / limit."""
HW_ERRORS: Final = "hw.errors"
"""Monotonic cumulative sum, ``{error}``: ECC errors per ``error.type``, ``hw.type=gpu``."""
HW_TEMPERATURE: Final = "hw.temperature"
"""Gauge, ``Cel``, ``hw.type=gpu``."""
HW_POWER: Final = "hw.power"
"""Gauge, ``W``: power draw, ``hw.type=gpu``."""
HW_ENERGY: Final = "hw.energy"
"""Monotonic cumulative sum, ``J``: energy used since the driver loaded, ``hw.type=gpu``."""

# GPU metrics OpenTelemetry does not name: ours, under ``nvml.gpu``.
NVML_GPU_CLOCK_FREQUENCY: Final = "nvml.gpu.clock.frequency"
"""Gauge, ``Hz``, per ``nvml.gpu.clock.type``."""
NVML_GPU_CLOCK_TYPE: Final = "nvml.gpu.clock.type"
"""``sm`` or ``memory``."""
NVML_GPU_FAN_SPEED: Final = "nvml.gpu.fan.speed"
"""Gauge, ``1`` (0..1 of the fan's maximum); absent on fanless datacenter GPUs."""
NVML_GPU_PCIE_THROUGHPUT: Final = "nvml.gpu.pcie.throughput"
"""Gauge, ``By/s``, per ``network.io.direction``: NVML samples PCIe traffic as a rate
(over 20 ms), not the byte count OpenTelemetry's ``hw.gpu.io`` counter needs."""
NVML_GPU_POWER_LIMIT: Final = "nvml.gpu.power.limit"
"""Gauge, ``W``: the enforced power limit."""
NVML_GPU_THROTTLE_ACTIVE: Final = "nvml.gpu.throttle.active"
"""Gauge, ``1``: 1 while the ``nvml.gpu.throttle.reason`` holds clocks down, else 0."""
NVML_GPU_THROTTLE_REASON: Final = "nvml.gpu.throttle.reason"
"""``gpu_idle``, ``sw_power_cap``, ``hw_slowdown``, ``sw_thermal_slowdown``, ..."""
NVML_GPU_PROCESS_MEMORY_USAGE: Final = "nvml.gpu.process.memory.usage"
"""Gauge, ``By``: GPU memory of one process (``process.pid``, the host's pid), with the
run's ``ml.run.id`` and ``ml.run.rank`` when the process belongs to a known run."""

# Host metrics, OpenTelemetry names.
CPU_LOGICAL_NUMBER: Final = "cpu.logical_number"
SYSTEM_DEVICE: Final = "system.device"
SYSTEM_MEMORY_STATE: Final = "system.memory.state"
"""``used``, ``free``, ``cached``, ``buffers``."""
SYSTEM_PAGING_STATE: Final = "system.paging.state"
"""``used`` or ``free``."""
SYSTEM_FILESYSTEM_STATE: Final = "system.filesystem.state"
"""``used`` or ``free``."""
SYSTEM_FILESYSTEM_MOUNTPOINT: Final = "system.filesystem.mountpoint"
SYSTEM_FILESYSTEM_TYPE: Final = "system.filesystem.type"
DISK_IO_DIRECTION: Final = "disk.io.direction"
"""``read`` or ``write``."""
NETWORK_INTERFACE_NAME: Final = "network.interface.name"

SYSTEM_CPU_UTILIZATION: Final = "system.cpu.utilization"
"""Gauge, ``1``: busy share of all CPUs; per core with ``cpu.logical_number``."""
SYSTEM_CPU_LOAD_AVERAGE_1M: Final = "system.cpu.load_average.1m"
SYSTEM_CPU_LOAD_AVERAGE_5M: Final = "system.cpu.load_average.5m"
SYSTEM_CPU_LOAD_AVERAGE_15M: Final = "system.cpu.load_average.15m"
SYSTEM_MEMORY_USAGE: Final = "system.memory.usage"
"""Gauge, ``By``, per ``system.memory.state``."""
SYSTEM_MEMORY_LIMIT: Final = "system.memory.limit"
"""Gauge, ``By``: total memory."""
SYSTEM_MEMORY_UTILIZATION: Final = "system.memory.utilization"
"""Gauge, ``1``, per ``system.memory.state`` (the SDK's carries no state: it means used)."""
SYSTEM_PAGING_USAGE: Final = "system.paging.usage"
"""Gauge, ``By``: swap, per ``system.paging.state``."""
SYSTEM_PAGING_UTILIZATION: Final = "system.paging.utilization"
SYSTEM_DISK_IO: Final = "system.disk.io"
"""Monotonic cumulative sum, ``By``, per ``system.device`` and ``disk.io.direction``."""
SYSTEM_FILESYSTEM_USAGE: Final = "system.filesystem.usage"
"""Gauge, ``By``, per mount point and ``system.filesystem.state``."""
SYSTEM_FILESYSTEM_UTILIZATION: Final = "system.filesystem.utilization"
SYSTEM_NETWORK_IO: Final = "system.network.io"
"""Monotonic cumulative sum, ``By``, per ``network.interface.name`` and direction."""
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
"""Gauge, ``1``: share of all the host's CPUs."""
PROCESS_MEMORY_USAGE: Final = "process.memory.usage"
"""Gauge, ``By``: resident memory."""
PROCESS_THREAD_COUNT: Final = "process.thread.count"


# --- Read by the prometheus exporter -------------------------------------------------
ML_RUN_NAME: Final = "ml.run.name"
"""A run's name as a resource attribute, where another sender puts it there; the SDK
sends the name by events (``ml.run.start``, ``ml.run.rename``), which win."""
