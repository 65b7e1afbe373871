"""The nvml receiver, in-process, reading GPUs through the fake NVML library."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from trainwire import semconv
from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.confmap import decode
from trainwire.collector.receivers.nvml import NvmlReceiver, NvmlReceiverConfig
from trainwire.collector.receivers.nvml import fake as fake_nvml
from trainwire.collector.rundirectory import RunDirectory
from trainwire.errors import ConfigError, RetryableExportError

from .scraping import Sink, collect_once, points

FAKE = "trainwire.collector.receivers.nvml.fake"
PATH = "receivers::nvml"
GPU0 = fake_nvml.DEFAULT_DEVICE["uuid"]


def receiver(sink: Sink, directory: RunDirectory | None = None, **settings: Any) -> NvmlReceiver:
    problems: list[str] = []
    config = decode(NvmlReceiverConfig, {"library": FAKE, **settings}, PATH, problems)
    assert problems == []
    return NvmlReceiver(
        config,
        id=ComponentID("nvml"),
        next_consumers={Signal.METRICS: sink},
        directory=directory or RunDirectory(),
    )


def scenario(monkeypatch: pytest.MonkeyPatch, **content: Any) -> None:
    monkeypatch.setenv(fake_nvml.ENV_VAR, json.dumps(content))


def by_name(sink: Sink, name: str, **match: Any) -> list[tuple[float, dict[str, Any]]]:
    return [
        (value, attrs)
        for metric, _, value, attrs, _ in points(sink.requests)
        if metric == name and all(attrs.get(k) == v for k, v in match.items())
    ]


def test_each_gpu_reports_otel_hw_metrics_with_its_identity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every GPU's utilization, memory, temperature and power arrive under hw.* names, in SI units."""
    scenario(
        monkeypatch,
        devices=[
            {"utilization_gpu": 97, "memory_used": 40 * 2**30, "memory_total": 80 * 2**30},
            {"uuid": "GPU-b", "temperature": 71, "power_mw": 301_500},
        ],
    )
    sink = Sink()
    collect_once(receiver(sink, host_name="node-7"), sink)
    identity = {
        semconv.HW_ID: GPU0,
        semconv.HW_NAME: "NVIDIA H100 80GB HBM3",
        semconv.HW_VENDOR: "NVIDIA",
        semconv.HW_TYPE: "gpu",
    }
    assert by_name(sink, semconv.HW_GPU_UTILIZATION, **{semconv.HW_ID: GPU0}) == [
        (0.97, {**identity, semconv.HW_GPU_TASK: "general"}),
        (0.0, {**identity, semconv.HW_GPU_TASK: "encoder"}),
        (0.0, {**identity, semconv.HW_GPU_TASK: "decoder"}),
    ]
    assert by_name(sink, semconv.HW_GPU_MEMORY_USAGE, **{semconv.HW_ID: GPU0}) == [
        (40 * 2**30, identity)
    ]
    assert by_name(sink, semconv.HW_GPU_MEMORY_LIMIT, **{semconv.HW_ID: GPU0})[0][0] == 80 * 2**30
    assert by_name(sink, semconv.HW_GPU_MEMORY_UTILIZATION, **{semconv.HW_ID: GPU0})[0][0] == 0.5
    assert by_name(sink, semconv.HW_TEMPERATURE, **{semconv.HW_ID: "GPU-b"})[0][0] == 71
    assert by_name(sink, semconv.HW_POWER, **{semconv.HW_ID: "GPU-b"})[0][0] == 301.5
    assert by_name(sink, semconv.NVML_GPU_POWER_LIMIT, **{semconv.HW_ID: "GPU-b"})[0][0] == 700
    units = {name: unit for name, unit, *_ in points(sink.requests)}
    assert units[semconv.HW_TEMPERATURE] == "Cel" and units[semconv.HW_POWER] == "W"
    resources = {json.dumps(r, sort_keys=True) for *_, r in points(sink.requests)}
    assert resources == {json.dumps({semconv.HOST_NAME: "node-7"})}
    scope = sink.requests[0].resource_metrics[0].scope_metrics[0].scope.name
    assert scope == semconv.SCOPE_NVML


def test_clocks_throttle_reasons_ecc_energy_and_pcie(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clocks in Hz, each throttle reason as 0/1, ECC errors and energy as counters, PCIe in bytes/s."""
    reasons = (
        fake_nvml.nvmlClocksThrottleReasonSwPowerCap | fake_nvml.nvmlClocksThrottleReasonHwSlowdown
    )
    scenario(
        monkeypatch,
        devices=[
            {
                "clock_sm_mhz": 1980,
                "throttle_reasons": reasons,
                "ecc_uncorrected": 2,
                "pcie_rx_kbps": 1000,
                "energy_mj": 5_000,
            }
        ],
    )
    sink = Sink()
    collect_once(receiver(sink), sink)
    clock = by_name(sink, semconv.NVML_GPU_CLOCK_FREQUENCY, **{semconv.NVML_GPU_CLOCK_TYPE: "sm"})
    assert clock[0][0] == 1980e6
    active = {
        attrs[semconv.NVML_GPU_THROTTLE_REASON]: value
        for value, attrs in by_name(sink, semconv.NVML_GPU_THROTTLE_ACTIVE)
    }
    assert active["sw_power_cap"] == active["hw_slowdown"] == 1
    assert active["gpu_idle"] == active["hw_thermal_slowdown"] == 0
    assert len(active) == 9
    errors = by_name(sink, semconv.HW_ERRORS, **{semconv.ERROR_TYPE: "uncorrected"})
    assert errors[0][0] == 2
    assert by_name(sink, semconv.HW_ENERGY)[0][0] == 5.0
    rx = by_name(
        sink, semconv.NVML_GPU_PCIE_THROUGHPUT, **{semconv.NETWORK_IO_DIRECTION: "receive"}
    )
    assert rx[0][0] == 1000 * 1024
    metric = next(
        m
        for m in sink.requests[0].resource_metrics[0].scope_metrics[0].metrics
        if m.name == semconv.HW_ERRORS
    )
    assert metric.sum.is_monotonic and metric.sum.data_points[0].start_time_unix_nano > 0


def test_unsupported_sensors_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GPU without a fan (NOT_SUPPORTED) or ECC reports everything else and no fan or error points."""
    scenario(
        monkeypatch, devices=[{"fan_percent": None, "ecc_corrected": None, "ecc_uncorrected": None}]
    )
    sink = Sink()
    collect_once(receiver(sink), sink)
    names = {name for name, *_ in points(sink.requests)}
    assert semconv.NVML_GPU_FAN_SPEED not in names and semconv.HW_ERRORS not in names
    assert semconv.HW_GPU_UTILIZATION in names


def test_fan_speed_as_a_share_where_the_gpu_has_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A workstation GPU's fan speed arrives as a share of its maximum."""
    scenario(monkeypatch, devices=[{"fan_percent": 45}])
    sink = Sink()
    collect_once(receiver(sink), sink)
    assert by_name(sink, semconv.NVML_GPU_FAN_SPEED)[0][0] == 0.45


def test_a_lost_gpu_skips_that_value_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A query failing with GPU_IS_LOST is skipped, logged once, and the other values still arrive."""
    scenario(monkeypatch, devices=[{"temperature": "lost"}])
    sink = Sink()
    collect_once(
        receiver(sink, collection_interval_s=0.1), sink, until=lambda: len(sink.requests) >= 3
    )
    lost = [r for r in caplog.records if "GPU is lost" in r.getMessage()]
    assert len(lost) == 1 and "temperature" in lost[0].getMessage()
    names = {name for name, *_ in points(sink.requests)}
    assert semconv.HW_TEMPERATURE not in names and semconv.HW_POWER in names


def test_process_gpu_memory_is_attributed_to_the_run_of_its_pid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process of a run on this host carries the run's id and rank; a stranger's only its pid."""
    me, stranger = os.getpid(), 999_999_999
    scenario(
        monkeypatch,
        devices=[
            {
                "processes": [
                    {"pid": me, "used_memory": 30 * 2**30},
                    {"pid": stranger, "used_memory": 2**30},
                ]
            }
        ],
    )
    directory = RunDirectory()
    directory.add(run_resource("run-1", rank=3, host="node-7", pid=me))
    sink = Sink()
    collect_once(receiver(sink, directory, host_name="node-7", root_path="/"), sink)
    usage = {
        attrs[semconv.PROCESS_PID]: (value, attrs)
        for value, attrs in by_name(sink, semconv.NVML_GPU_PROCESS_MEMORY_USAGE)
    }
    value, attrs = usage[me]
    assert value == 30 * 2**30
    assert (attrs[semconv.ML_RUN_ID], attrs[semconv.ML_RUN_RANK], attrs[semconv.HW_ID]) == (
        "run-1",
        3,
        GPU0,
    )
    assert semconv.ML_RUN_ID not in usage[stranger][1]


def test_per_process_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """per_process: false reports no process points."""
    scenario(monkeypatch, devices=[{"processes": [{"pid": os.getpid(), "used_memory": 1}]}])
    sink = Sink()
    collect_once(receiver(sink, per_process=False), sink)
    assert by_name(sink, semconv.NVML_GPU_PROCESS_MEMORY_USAGE) == []


@pytest.mark.parametrize("error", ["driver_not_loaded", "library_not_found"])
def test_no_driver_logs_one_line_and_stays_idle(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    """Without a driver the receiver starts, says why in one line, and emits nothing."""
    caplog.set_level(logging.INFO, logger="trainwire.collector.receivers.nvml")
    scenario(monkeypatch, init_error=error)
    sink = Sink()
    nvml = receiver(sink)
    collect_once(nvml, sink, until=lambda: True)
    lines = [r.getMessage() for r in caplog.records if "nvml" in r.getMessage()]
    assert len(lines) == 1 and "no GPU metrics from this host" in lines[0]
    assert sink.requests == [] and nvml.devices == []


def test_no_gpu_with_required_fails_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """required: true turns a missing driver into a start failure that says how to fix it."""
    scenario(monkeypatch, init_error="driver_not_loaded")
    sink = Sink()
    with pytest.raises(
        ConfigError,
        match=r"receivers::nvml: NVML did not start \(Driver Not Loaded\).*required: false",
    ):
        collect_once(receiver(sink, required=True), sink)


def test_zero_gpus_is_no_gpu(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A driver with no GPU is treated like no driver."""
    caplog.set_level(logging.INFO, logger="trainwire.collector.receivers.nvml")
    scenario(monkeypatch, devices=[])
    sink = Sink()
    collect_once(receiver(sink), sink, until=lambda: True)
    assert any("NVML found no GPU" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({}, [], id="defaults"),
        pytest.param({"library": FAKE, "collection_interval_s": 1}, [], id="fake-library"),
        pytest.param(
            {"collection_interval_s": 0},
            [f"{PATH}::collection_interval_s: must be between 0.1 and 86400 seconds"],
            id="interval-zero",
        ),
        pytest.param(
            {"library": "not a module"},
            [f"{PATH}::library: 'not a module' is not a module name; leave it out for pynvml"],
            id="library-malformed",
        ),
        pytest.param(
            {"library": "no_such_nvml_module"},
            [
                f"{PATH}::library: no module named 'no_such_nvml_module' can be imported; leave it"
                " out for nvidia-ml-py's pynvml"
            ],
            id="library-missing",
        ),
        pytest.param(
            {"root_path": "/no/such/hostfs"},
            [
                f"{PATH}::root_path: '/no/such/hostfs' has no proc directory; mount the host's /"
                " there (read-only) or leave root_path out"
            ],
            id="root-path-without-proc",
        ),
        pytest.param(
            {"colection_interval_s": 5},
            [
                f"{PATH}::colection_interval_s: unknown key; did you mean 'collection_interval_s'?"
                " (valid keys: collection_interval_s, host_name, library, per_process, required,"
                " root_path)"
            ],
            id="typo",
        ),
        pytest.param(
            {"required": "yes"},
            [f"{PATH}::required: expected true or false, got str 'yes'"],
            id="required-not-bool",
        ),
    ],
)
def test_config_problems(settings: dict[str, Any], expected: list[str]) -> None:
    """Each bad setting is named with its path and how to fix it."""
    problems: list[str] = []
    decode(NvmlReceiverConfig, settings, PATH, problems)
    assert problems == expected


def test_the_fake_behaves_like_pynvml_before_init() -> None:
    """Like nvidia-ml-py, the fake refuses calls before nvmlInit with NVML_ERROR_UNINITIALIZED."""
    fake_nvml.nvmlShutdown()
    with pytest.raises(fake_nvml.NVMLError) as caught:
        fake_nvml.nvmlDeviceGetCount()
    assert caught.value.value == fake_nvml.NVML_ERROR_UNINITIALIZED
    assert str(caught.value) == "Uninitialized"


def test_the_fake_reads_a_scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TRAINWIRE_FAKE_NVML may name a JSON file instead of holding the JSON."""
    path = tmp_path / "gpus.json"
    path.write_text(json.dumps({"devices": [{"name": "NVIDIA A100-SXM4-40GB"}]}))
    monkeypatch.setenv(fake_nvml.ENV_VAR, str(path))
    fake_nvml.nvmlInit()
    try:
        handle = fake_nvml.nvmlDeviceGetHandleByIndex(0)
        assert fake_nvml.nvmlDeviceGetName(handle) == "NVIDIA A100-SXM4-40GB"
        assert fake_nvml.nvmlDeviceGetCount() == 1
    finally:
        fake_nvml.nvmlShutdown()


def run_resource(run_id: str, *, rank: int, host: str, pid: int, pod: str | None = None) -> Any:
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    from trainwire.anyvalue import to_attributes

    attributes: dict[str, Any] = {
        semconv.ML_RUN_ID: run_id,
        semconv.ML_RUN_RANK: rank,
        semconv.HOST_NAME: host,
        semconv.PROCESS_PID: pid,
    }
    if pod is not None:
        attributes[semconv.K8S_POD_UID] = pod
    return Resource(attributes=to_attributes(attributes))


class RefusingSink(Sink):
    """A pipeline whose durable queue is full: refuses every request for now."""

    async def consume_metrics(self, request: Any) -> None:
        self.requests.append(request)
        raise RetryableExportError("queue full", retry_after_s=1)


def test_points_are_counted_in_the_collectors_own_telemetry() -> None:
    """Accepted points show in otelcol_receiver_accepted_metric_points of the receiver."""
    sink = Sink()
    host = collect_once(receiver(sink), sink)
    accepted = host.telemetry.counter(
        "otelcol_receiver_accepted_metric_points", "", ("receiver", "transport")
    )
    assert accepted.value(receiver="nvml", transport="") >= len(points(sink.requests[:1]))


def test_a_refusing_pipeline_drops_samples_says_so_once_and_collection_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A full pipeline makes the receiver drop each sample (counted, logged once) and keep collecting."""
    sink = RefusingSink()
    host = collect_once(
        receiver(sink, collection_interval_s=0.1), sink, until=lambda: len(sink.requests) >= 3
    )
    refused = host.telemetry.counter(
        "otelcol_receiver_refused_metric_points", "", ("receiver", "transport")
    )
    assert refused.value(receiver="nvml", transport="") >= 3 * len(points(sink.requests[:1]))
    warnings = [r for r in caplog.records if "refused a collection" in r.getMessage()]
    assert len(warnings) == 1 and "queue full" in warnings[0].getMessage()


def test_the_host_figures_tracker_reads_the_receivers_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the nvml receiver emits gives HostFiguresTracker the host's GPU line, as the Discord exporter prints it."""
    from trainwire.collector.hostfigures import HostFiguresTracker, format_figures

    scenario(
        monkeypatch,
        devices=[
            {
                "utilization_gpu": 98,
                "temperature": 71,
                "memory_used": 38 * 2**30,
                "memory_total": 80 * 2**30,
                "power_mw": 301_000,
            }
        ],
    )
    sink = Sink()
    collect_once(receiver(sink, host_name="node-7"), sink)
    tracker = HostFiguresTracker()
    tracker.observe(sink.requests[0])
    figures = tracker.latest("node-7")
    assert figures is not None
    assert format_figures(figures) == "GPU0 98% 71°C 38/80 GiB 301 W"
    assert figures.gpus[0].name == "NVIDIA H100 80GB HBM3"
