"""A stand-in for nvidia-ml-py's ``pynvml`` module, for tests on machines without a GPU.

Point the receiver at it with ``library: trainwire.collector.receivers.nvml.fake``.
It offers the functions, constants, return shapes and errors of the real module
that the nvml receiver uses (nvidia-ml-py 12/13): the same names, values in NVML's
units (mW, mJ, MHz, KB/s, percent), ``NVMLError`` carrying the NVML return code in
``.value``, ``NVML_ERROR_UNINITIALIZED`` before ``nvmlInit``, and
``NVML_ERROR_NOT_SUPPORTED`` where a GPU lacks a sensor (fans on datacenter GPUs).

The GPUs it shows are read at ``nvmlInit`` from ``TRAINWIRE_FAKE_NVML``: JSON text, or
the path of a JSON file, ``{"devices": [{...}, ...]}`` with the keys of
:data:`DEFAULT_DEVICE` (``null`` for a query the GPU does not support), or
``{"init_error": "driver_not_loaded"}`` (or ``library_not_found``) for a machine
without a driver. Unset: two idle H100s.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

__all__ = [
    "DEFAULT_DEVICE",
    "ENV_VAR",
    "NVMLError",
    "nvmlDeviceGetClockInfo",
    "nvmlDeviceGetComputeRunningProcesses",
    "nvmlDeviceGetCount",
    "nvmlDeviceGetCurrentClocksThrottleReasons",
    "nvmlDeviceGetDecoderUtilization",
    "nvmlDeviceGetEncoderUtilization",
    "nvmlDeviceGetEnforcedPowerLimit",
    "nvmlDeviceGetFanSpeed",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetMemoryInfo",
    "nvmlDeviceGetName",
    "nvmlDeviceGetPcieThroughput",
    "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetTemperature",
    "nvmlDeviceGetTotalEccErrors",
    "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetUUID",
    "nvmlDeviceGetUtilizationRates",
    "nvmlInit",
    "nvmlShutdown",
    "nvmlSystemGetDriverVersion",
]

ENV_VAR = "TRAINWIRE_FAKE_NVML"

# Return codes and enums, with nvidia-ml-py's names and values.
NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_GRAPHICS = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_PCIE_UTIL_TX_BYTES = 0
NVML_PCIE_UTIL_RX_BYTES = 1
NVML_MEMORY_ERROR_TYPE_CORRECTED = 0
NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
NVML_VOLATILE_ECC = 0
NVML_AGGREGATE_ECC = 1
nvmlClocksThrottleReasonGpuIdle = 0x1
nvmlClocksThrottleReasonApplicationsClocksSetting = 0x2
nvmlClocksThrottleReasonSwPowerCap = 0x4
nvmlClocksThrottleReasonHwSlowdown = 0x8
nvmlClocksThrottleReasonSyncBoost = 0x10
nvmlClocksThrottleReasonSwThermalSlowdown = 0x20
nvmlClocksThrottleReasonHwThermalSlowdown = 0x40
nvmlClocksThrottleReasonHwPowerBrakeSlowdown = 0x80
nvmlClocksThrottleReasonDisplayClockSetting = 0x100

_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}
_INIT_ERRORS = {
    "driver_not_loaded": NVML_ERROR_DRIVER_NOT_LOADED,
    "library_not_found": NVML_ERROR_LIBRARY_NOT_FOUND,
}


class NVMLError(Exception):
    """An NVML return code other than success, in ``.value``, as nvidia-ml-py raises."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, "Unknown Error")


DEFAULT_DEVICE: dict[str, Any] = {
    "uuid": "GPU-00000000-0000-0000-0000-000000000000",
    "name": "NVIDIA H100 80GB HBM3",
    "utilization_gpu": 0,
    "encoder": 0,
    "decoder": 0,
    "memory_total": 85_520_809_984,
    "memory_used": 582_156_288,
    "temperature": 31,
    "power_mw": 71_234,
    "power_limit_mw": 700_000,
    "energy_mj": 123_456_789,
    "clock_sm_mhz": 345,
    "clock_mem_mhz": 2619,
    "fan_percent": None,  # datacenter GPUs have no fan of their own: NOT_SUPPORTED
    "throttle_reasons": nvmlClocksThrottleReasonGpuIdle,
    "ecc_corrected": 0,
    "ecc_uncorrected": 0,
    "pcie_tx_kbps": 1200,
    "pcie_rx_kbps": 3400,
    "processes": [],
}

_lock = threading.Lock()
_devices: list[dict[str, Any]] | None = None


def _scenario() -> dict[str, Any]:
    text = os.environ.get(ENV_VAR, "")
    if not text:
        return {}
    if not text.lstrip().startswith("{"):
        text = Path(text).read_text()
    scenario: dict[str, Any] = json.loads(text)
    return scenario


def _default_devices() -> list[dict[str, Any]]:
    second = {**DEFAULT_DEVICE, "uuid": "GPU-11111111-1111-1111-1111-111111111111"}
    return [dict(DEFAULT_DEVICE), second]


def nvmlInit() -> None:
    """Load the GPUs of the scenario, or raise its ``init_error``."""
    global _devices
    scenario = _scenario()
    error = scenario.get("init_error")
    if error is not None:
        raise NVMLError(_INIT_ERRORS.get(error, NVML_ERROR_UNKNOWN))
    devices = scenario.get("devices")
    with _lock:
        if devices is None:
            _devices = _default_devices()
        else:
            _devices = [{**DEFAULT_DEVICE, **d} for d in devices]


def nvmlShutdown() -> None:
    """Forget the GPUs."""
    global _devices
    with _lock:
        _devices = None


def _device(handle: Any) -> dict[str, Any]:
    with _lock:
        if _devices is None:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        index = handle.index if isinstance(handle, SimpleNamespace) else -1
        if not 0 <= index < len(_devices):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return _devices[index]


def _value(handle: Any, key: str) -> Any:
    value = _device(handle)[key]
    if value is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    if value == "lost":
        raise NVMLError(NVML_ERROR_GPU_IS_LOST)
    return value


def nvmlSystemGetDriverVersion() -> str:
    """The driver version string."""
    with _lock:
        if _devices is None:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
    return "550.54.15"


def nvmlDeviceGetCount() -> int:
    """How many GPUs there are."""
    with _lock:
        if _devices is None:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        return len(_devices)


def nvmlDeviceGetHandleByIndex(index: int) -> Any:
    """An opaque handle of the GPU at ``index``."""
    handle = SimpleNamespace(index=index)
    _device(handle)
    return handle


def nvmlDeviceGetUUID(handle: Any) -> str:
    """``GPU-…`` (a str, as nvidia-ml-py ≥ 11.5 returns)."""
    return str(_value(handle, "uuid"))


def nvmlDeviceGetName(handle: Any) -> str:
    """The product name."""
    return str(_value(handle, "name"))


def nvmlDeviceGetUtilizationRates(handle: Any) -> Any:
    """``c_nvmlUtilization_t``: ``.gpu`` and ``.memory`` in percent."""
    gpu = _value(handle, "utilization_gpu")
    return SimpleNamespace(gpu=gpu, memory=min(100, gpu // 2))


def nvmlDeviceGetEncoderUtilization(handle: Any) -> list[int]:
    """``[percent, sampling period in µs]``."""
    return [_value(handle, "encoder"), 167_000]


def nvmlDeviceGetDecoderUtilization(handle: Any) -> list[int]:
    """``[percent, sampling period in µs]``."""
    return [_value(handle, "decoder"), 167_000]


def nvmlDeviceGetMemoryInfo(handle: Any, version: Any = None) -> Any:
    """``c_nvmlMemory_t``: ``.total``, ``.free``, ``.used`` in bytes."""
    total, used = _value(handle, "memory_total"), _value(handle, "memory_used")
    return SimpleNamespace(total=total, free=total - used, used=used)


def nvmlDeviceGetTemperature(handle: Any, sensor: int) -> int:
    """Degrees Celsius of ``NVML_TEMPERATURE_GPU``."""
    if sensor != NVML_TEMPERATURE_GPU:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return int(_value(handle, "temperature"))


def nvmlDeviceGetPowerUsage(handle: Any) -> int:
    """Power draw in milliwatts."""
    return int(_value(handle, "power_mw"))


def nvmlDeviceGetEnforcedPowerLimit(handle: Any) -> int:
    """The power limit in force, in milliwatts."""
    return int(_value(handle, "power_limit_mw"))


def nvmlDeviceGetTotalEnergyConsumption(handle: Any) -> int:
    """Millijoules since the driver loaded."""
    return int(_value(handle, "energy_mj"))


def nvmlDeviceGetClockInfo(handle: Any, type: int) -> int:
    """The current clock of ``NVML_CLOCK_SM`` or ``NVML_CLOCK_MEM`` in MHz."""
    key = {NVML_CLOCK_SM: "clock_sm_mhz", NVML_CLOCK_MEM: "clock_mem_mhz"}.get(type)
    if key is None:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return int(_value(handle, key))


def nvmlDeviceGetFanSpeed(handle: Any) -> int:
    """Percent of the fan's maximum; NOT_SUPPORTED without a fan."""
    return int(_value(handle, "fan_percent"))


def nvmlDeviceGetCurrentClocksThrottleReasons(handle: Any) -> int:
    """A bitmask of ``nvmlClocksThrottleReason*``."""
    return int(_value(handle, "throttle_reasons"))


def nvmlDeviceGetTotalEccErrors(handle: Any, errorType: int, counterType: int) -> int:
    """ECC errors of a type; NOT_SUPPORTED where ECC is off."""
    key = {
        NVML_MEMORY_ERROR_TYPE_CORRECTED: "ecc_corrected",
        NVML_MEMORY_ERROR_TYPE_UNCORRECTED: "ecc_uncorrected",
    }.get(errorType)
    if key is None or counterType not in (NVML_VOLATILE_ECC, NVML_AGGREGATE_ECC):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return int(_value(handle, key))


def nvmlDeviceGetPcieThroughput(device: Any, counter: int) -> int:
    """KB/s over the last 20 ms, of ``NVML_PCIE_UTIL_TX_BYTES`` or ``_RX_BYTES``."""
    key = {NVML_PCIE_UTIL_TX_BYTES: "pcie_tx_kbps", NVML_PCIE_UTIL_RX_BYTES: "pcie_rx_kbps"}
    if counter not in key:
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return int(_value(device, key[counter]))


def nvmlDeviceGetComputeRunningProcesses(handle: Any) -> list[Any]:
    """Processes with a compute context: ``.pid`` (the host's), ``.usedGpuMemory`` (bytes)."""
    return [
        SimpleNamespace(
            pid=p["pid"],
            usedGpuMemory=p.get("used_memory"),
            gpuInstanceId=0xFFFFFFFF,
            computeInstanceId=0xFFFFFFFF,
        )
        for p in _value(handle, "processes")
    ]
