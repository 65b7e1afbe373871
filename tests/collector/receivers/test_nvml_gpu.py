"""The nvml receiver against the real NVML library; skipped on a machine without an NVIDIA GPU."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from trainwire import semconv
from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.receivers.nvml import NvmlReceiver, NvmlReceiverConfig
from trainwire.collector.rundirectory import RunDirectory

from .scraping import Sink, collect_once, points

pytestmark = pytest.mark.gpu


@pytest.fixture
def pynvml() -> Iterator[Any]:
    """nvidia-ml-py, initialised; skips the test when there is no driver or GPU."""
    nvml = pytest.importorskip("pynvml")
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        pytest.skip(f"no NVIDIA driver: {exc}")
    try:
        if nvml.nvmlDeviceGetCount() == 0:
            pytest.skip("NVML sees no GPU")
        yield nvml
    finally:
        nvml.nvmlShutdown()


def test_every_real_gpu_reports_its_utilization_and_memory(pynvml: Any) -> None:
    """Each GPU NVML lists reports utilization in 0..1 and the memory NVML says it has."""
    expected = {}
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        uuid = pynvml.nvmlDeviceGetUUID(handle)
        uuid = uuid.decode() if isinstance(uuid, bytes) else uuid
        expected[uuid] = pynvml.nvmlDeviceGetMemoryInfo(handle).total
    sink = Sink()
    receiver = NvmlReceiver(
        NvmlReceiverConfig(),
        id=ComponentID("nvml"),
        next_consumers={Signal.METRICS: sink},
        directory=RunDirectory(),
    )
    collect_once(receiver, sink)
    found = points(sink.requests)
    limits = {a[semconv.HW_ID]: v for n, _, v, a, _ in found if n == semconv.HW_GPU_MEMORY_LIMIT}
    assert limits == expected
    general = [
        v
        for n, _, v, a, _ in found
        if n == semconv.HW_GPU_UTILIZATION and a[semconv.HW_GPU_TASK] == "general"
    ]
    assert len(general) == len(expected) and all(0 <= v <= 1 for v in general)
    temperatures = [v for n, _, v, _, _ in found if n == semconv.HW_TEMPERATURE]
    assert all(0 < t < 120 for t in temperatures)
