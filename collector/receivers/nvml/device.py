"""Read one GPU through NVML into points.

NVML answers ``NVML_ERROR_NOT_SUPPORTED`` for sensors a GPU lacks (fans on
datacenter GPUs, ECC counters with ECC off, energy on old GPUs): such a query is
left out, and not asked again. Any other failure skips that value for this
collection and is logged once per GPU and query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from trainwire import semconv
from trainwire.collector.receivers.scraper import PointsBuilder

__all__ = ["THROTTLE_REASONS", "DeviceReader"]

logger = logging.getLogger(__name__)

THROTTLE_REASONS: dict[str, int] = {
    "gpu_idle": 0x1,
    "applications_clocks_setting": 0x2,
    "sw_power_cap": 0x4,
    "hw_slowdown": 0x8,
    "sync_boost": 0x10,
    "sw_thermal_slowdown": 0x20,
    "hw_thermal_slowdown": 0x40,
    "hw_power_brake_slowdown": 0x80,
    "display_clock_setting": 0x100,
}
"""``nvml.gpu.throttle.reason`` values and their ``nvmlClocksThrottleReason*`` bits."""

_NOT_SUPPORTED = 3
_FUNCTION_NOT_FOUND = 13
_KIB = 1024  # NVML reports PCIe throughput in KB/s of 1024 bytes


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class DeviceReader:
    """One GPU: its identity, and what it can report."""

    def __init__(self, lib: Any, index: int) -> None:
        self._lib = lib
        self.index = index
        self.handle = lib.nvmlDeviceGetHandleByIndex(index)
        self.uuid = _text(lib.nvmlDeviceGetUUID(self.handle))
        self.name = _text(lib.nvmlDeviceGetName(self.handle))
        self.attributes = {
            semconv.HW_ID: self.uuid,
            semconv.HW_NAME: self.name,
            semconv.HW_VENDOR: "NVIDIA",
            semconv.HW_TYPE: "gpu",
        }
        self._unsupported: set[str] = set()
        self._complained: set[str] = set()

    def query(self, what: str, fn: str, *args: Any) -> Any:
        """Call ``lib.<fn>(handle, *args)``; None when unsupported or failing."""
        if what in self._unsupported:
            return None
        call: Callable[..., Any] | None = getattr(self._lib, fn, None)
        if call is None:  # an older nvidia-ml-py without this function
            self._unsupported.add(what)
            return None
        try:
            return call(self.handle, *args)
        except self._lib.NVMLError as exc:
            if getattr(exc, "value", None) in (_NOT_SUPPORTED, _FUNCTION_NOT_FOUND):
                self._unsupported.add(what)
                return None
            if what not in self._complained:
                self._complained.add(what)
                logger.warning(
                    "nvml: GPU %d (%s): reading %s failed: %s", self.index, self.uuid, what, exc
                )
            return None

    def read(self, points: PointsBuilder, *, start_time_unix_nano: int) -> None:
        """Add this GPU's utilisation, memory, thermals, power, clocks and errors."""
        lib, attrs = self._lib, self.attributes
        rates = self.query("utilization", "nvmlDeviceGetUtilizationRates")
        if rates is not None:
            general = {**attrs, semconv.HW_GPU_TASK: "general"}
            points.gauge(semconv.HW_GPU_UTILIZATION, "1", rates.gpu / 100, general)
        for task, fn in (
            ("encoder", "nvmlDeviceGetEncoderUtilization"),
            ("decoder", "nvmlDeviceGetDecoderUtilization"),
        ):
            value = self.query(task, fn)
            if value is not None:
                task_attrs = {**attrs, semconv.HW_GPU_TASK: task}
                points.gauge(semconv.HW_GPU_UTILIZATION, "1", value[0] / 100, task_attrs)
        memory = self.query("memory", "nvmlDeviceGetMemoryInfo")
        if memory is not None:
            points.gauge(semconv.HW_GPU_MEMORY_USAGE, "By", memory.used, attrs)
            points.gauge(semconv.HW_GPU_MEMORY_LIMIT, "By", memory.total, attrs)
            if memory.total:
                ratio = memory.used / memory.total
                points.gauge(semconv.HW_GPU_MEMORY_UTILIZATION, "1", ratio, attrs)
        self._read_power_and_heat(points, start_time_unix_nano)
        for clock, kind in (("sm", lib.NVML_CLOCK_SM), ("memory", lib.NVML_CLOCK_MEM)):
            mhz = self.query(f"{clock} clock", "nvmlDeviceGetClockInfo", kind)
            if mhz is not None:
                clock_attrs = {**attrs, semconv.NVML_GPU_CLOCK_TYPE: clock}
                points.gauge(semconv.NVML_GPU_CLOCK_FREQUENCY, "Hz", mhz * 1e6, clock_attrs)
        fan = self.query("fan", "nvmlDeviceGetFanSpeed")
        if fan is not None:
            points.gauge(semconv.NVML_GPU_FAN_SPEED, "1", fan / 100, attrs)
        reasons = self.query("throttle reasons", "nvmlDeviceGetCurrentClocksThrottleReasons")
        if reasons is not None:
            for reason, bit in THROTTLE_REASONS.items():
                reason_attrs = {**attrs, semconv.NVML_GPU_THROTTLE_REASON: reason}
                active = 1.0 if reasons & bit else 0.0
                points.gauge(semconv.NVML_GPU_THROTTLE_ACTIVE, "1", active, reason_attrs)
        self._read_errors_and_pcie(points, start_time_unix_nano)

    def _read_power_and_heat(self, points: PointsBuilder, start_time_unix_nano: int) -> None:
        lib, attrs = self._lib, self.attributes
        temperature = self.query(
            "temperature", "nvmlDeviceGetTemperature", lib.NVML_TEMPERATURE_GPU
        )
        if temperature is not None:
            points.gauge(semconv.HW_TEMPERATURE, "Cel", temperature, attrs)
        power = self.query("power", "nvmlDeviceGetPowerUsage")
        if power is not None:
            points.gauge(semconv.HW_POWER, "W", power / 1000, attrs)
        limit = self.query("power limit", "nvmlDeviceGetEnforcedPowerLimit")
        if limit is not None:
            points.gauge(semconv.NVML_GPU_POWER_LIMIT, "W", limit / 1000, attrs)
        energy = self.query("energy", "nvmlDeviceGetTotalEnergyConsumption")
        if energy is not None:
            points.counter(
                semconv.HW_ENERGY,
                "J",
                energy / 1000,
                attrs,
                start_time_unix_nano=start_time_unix_nano,
            )

    def _read_errors_and_pcie(self, points: PointsBuilder, start_time_unix_nano: int) -> None:
        lib, attrs = self._lib, self.attributes
        for error_type, kind in (
            ("corrected", lib.NVML_MEMORY_ERROR_TYPE_CORRECTED),
            ("uncorrected", lib.NVML_MEMORY_ERROR_TYPE_UNCORRECTED),
        ):
            count = self.query(
                f"{error_type} ECC errors",
                "nvmlDeviceGetTotalEccErrors",
                kind,
                lib.NVML_VOLATILE_ECC,
            )
            if count is not None:
                points.counter(
                    semconv.HW_ERRORS,
                    "{error}",
                    count,
                    {**attrs, semconv.ERROR_TYPE: error_type},
                    start_time_unix_nano=start_time_unix_nano,
                )
        for direction, counter in (
            ("transmit", lib.NVML_PCIE_UTIL_TX_BYTES),
            ("receive", lib.NVML_PCIE_UTIL_RX_BYTES),
        ):
            kbps = self.query(f"PCIe {direction}", "nvmlDeviceGetPcieThroughput", counter)
            if kbps is not None:
                direction_attrs = {**attrs, semconv.NETWORK_IO_DIRECTION: direction}
                points.gauge(semconv.NVML_GPU_PCIE_THROUGHPUT, "By/s", kbps * _KIB, direction_attrs)

    def processes(self) -> list[tuple[int, int]]:
        """``(host pid, GPU memory in bytes)`` of each process computing on this GPU."""
        found = self.query("processes", "nvmlDeviceGetComputeRunningProcesses") or []
        return [(p.pid, p.usedGpuMemory) for p in found if p.usedGpuMemory is not None]
