"""The hostmetrics receiver, in-process, reading this machine with the real psutil."""

from __future__ import annotations

import os
from typing import Any

import psutil
import pytest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.collector.component import ComponentID, Signal
from trainwire.collector.confmap import decode
from trainwire.collector.receivers.hostmetrics import HostmetricsReceiver, HostmetricsReceiverConfig
from trainwire.collector.rundirectory import RunDirectory, RunProcess

from .scraping import Sink, collect_once, points

PATH = "receivers::hostmetrics"


def receiver(
    sink: Sink, directory: RunDirectory | None = None, **settings: Any
) -> HostmetricsReceiver:
    problems: list[str] = []
    config = decode(HostmetricsReceiverConfig, settings, PATH, problems)
    assert problems == []
    return HostmetricsReceiver(
        config,
        id=ComponentID("hostmetrics"),
        next_consumers={Signal.METRICS: sink},
        directory=directory or RunDirectory(),
    )


def directory_of(*ranks: RunProcess) -> RunDirectory:
    """A run directory holding ``ranks``, fed their Resources as the liveness connector does."""
    directory = RunDirectory()
    for rank in ranks:
        attributes: dict[str, Any] = {
            semconv.ML_RUN_ID: rank.run_id,
            semconv.ML_RUN_RANK: rank.rank,
            semconv.HOST_NAME: rank.host,
            semconv.PROCESS_PID: rank.pid,
        }
        if rank.experiment:
            attributes[semconv.ML_EXPERIMENT_NAME] = rank.experiment
        directory.add(Resource(attributes=to_attributes(attributes)))
    return directory


def names(sink: Sink) -> set[str]:
    return {name for name, *_ in points(sink.requests)}


def test_every_scraper_reports_under_otel_system_names() -> None:
    """By default CPU (total and per core), load, memory, swap, disk, file systems and network arrive."""
    sink = Sink()
    hostmetrics = receiver(sink, host_name="node-7", collection_interval_s=0.2)
    # CPU utilization needs two readings: the first collection right at start has none.
    collect_once(hostmetrics, sink, until=lambda: semconv.SYSTEM_CPU_UTILIZATION in names(sink))
    del sink.requests[:-1]
    assert {
        semconv.SYSTEM_CPU_UTILIZATION,
        semconv.SYSTEM_CPU_LOAD_AVERAGE_1M,
        semconv.SYSTEM_CPU_LOAD_AVERAGE_5M,
        semconv.SYSTEM_CPU_LOAD_AVERAGE_15M,
        semconv.SYSTEM_MEMORY_USAGE,
        semconv.SYSTEM_MEMORY_UTILIZATION,
        semconv.SYSTEM_MEMORY_LIMIT,
        semconv.SYSTEM_PAGING_USAGE,
        semconv.SYSTEM_FILESYSTEM_USAGE,
        semconv.SYSTEM_FILESYSTEM_UTILIZATION,
        semconv.SYSTEM_NETWORK_IO,
    } <= names(sink)
    all_points = points(sink.requests)
    assert {str(r) for *_, r in all_points} == {str({semconv.HOST_NAME: "node-7"})}
    cpu = [(v, a) for n, _, v, a, _ in all_points if n == semconv.SYSTEM_CPU_UTILIZATION]
    total = [v for v, a in cpu if not a]
    cores = sorted(a[semconv.CPU_LOGICAL_NUMBER] for v, a in cpu if a)
    assert len(total) == 1 and 0 <= total[0] <= 1
    assert cores == list(range(psutil.cpu_count()))
    limit = [v for n, _, v, _, _ in all_points if n == semconv.SYSTEM_MEMORY_LIMIT]
    assert limit == [psutil.virtual_memory().total]
    root = [
        a
        for n, _, _, a, _ in all_points
        if n == semconv.SYSTEM_FILESYSTEM_USAGE and a[semconv.SYSTEM_FILESYSTEM_STATE] == "used"
    ]
    assert root and all(semconv.SYSTEM_FILESYSTEM_MOUNTPOINT in a for a in root)
    lo = [
        (a[semconv.NETWORK_IO_DIRECTION], v)
        for n, _, v, a, _ in all_points
        if n == semconv.SYSTEM_NETWORK_IO and a[semconv.NETWORK_INTERFACE_NAME] == "lo"
    ]
    assert sorted(d for d, _ in lo) == ["receive", "transmit"]


def test_counters_are_monotonic_sums_since_boot() -> None:
    """Network bytes are a monotonic cumulative sum starting at the host's boot."""
    sink = Sink()
    collect_once(receiver(sink, scrapers={"network": None}), sink)
    metric = sink.requests[0].resource_metrics[0].scope_metrics[0].metrics[0]
    assert metric.name == semconv.SYSTEM_NETWORK_IO and metric.unit == "By"
    assert metric.sum.is_monotonic
    assert metric.sum.data_points[0].start_time_unix_nano == int(psutil.boot_time() * 1e9)


def test_only_the_chosen_scrapers_run() -> None:
    """scrapers: {memory:, load:} gives memory and load metrics and nothing else."""
    sink = Sink()
    collect_once(receiver(sink, scrapers={"memory": None, "load": {}}), sink)
    assert {n.split(".")[1] for n in names(sink)} == {"memory", "cpu"}
    assert semconv.SYSTEM_CPU_UTILIZATION not in names(sink)


def test_per_cpu_off_reports_only_the_total() -> None:
    """per_cpu: false gives one system.cpu.utilization point without cpu.logical_number."""
    sink = Sink()
    hostmetrics = receiver(sink, scrapers={"cpu": None}, per_cpu=False, collection_interval_s=0.2)
    collect_once(hostmetrics, sink)
    cpu = [a for n, _, _, a, _ in points(sink.requests) if n == semconv.SYSTEM_CPU_UTILIZATION]
    assert cpu == [{}]


def test_run_processes_of_this_host_get_process_metrics_with_run_attributes() -> None:
    """A live run rank of this host (this test process) gets CPU, memory and threads with its run id."""
    directory = directory_of(
        RunProcess("run-9", 1, host="node-7", pid=os.getpid(), experiment="exp"),
        RunProcess("run-x", 0, host="node-8", pid=os.getpid()),
    )
    sink = Sink()
    nvml = receiver(
        sink, directory, scrapers={"process": None}, host_name="node-7", collection_interval_s=0.1
    )
    collect_once(nvml, sink, until=lambda: semconv.PROCESS_CPU_UTILIZATION in names(sink))
    by_name = {n: (v, a) for n, _, v, a, _ in points(sink.requests)}
    expected_attrs = {
        semconv.PROCESS_PID: os.getpid(),
        semconv.ML_RUN_ID: "run-9",
        semconv.ML_RUN_RANK: 1,
        semconv.ML_EXPERIMENT_NAME: "exp",
    }
    memory, attrs = by_name[semconv.PROCESS_MEMORY_USAGE]
    assert attrs == expected_attrs and memory > 10 * 2**20
    threads, _ = by_name[semconv.PROCESS_THREAD_COUNT]
    assert threads >= 1
    assert 0 <= by_name[semconv.PROCESS_CPU_UTILIZATION][0] <= 1
    run_ids = {a.get(semconv.ML_RUN_ID) for *_, a, _ in points(sink.requests)}
    assert run_ids == {"run-9"}


def test_a_gone_process_is_skipped() -> None:
    """A run whose pid no longer exists gives no process points and no error."""
    directory = directory_of(RunProcess("r", 0, host="node-7", pid=2**22 + 12345))
    sink = Sink()
    collect_once(
        receiver(sink, directory, scrapers={"process": None, "load": None}, host_name="node-7"),
        sink,
    )
    assert not any(n.startswith("process.") for n in names(sink))


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({}, [], id="defaults"),
        pytest.param({"scrapers": {"cpu": None, "process": None}}, [], id="some-scrapers"),
        pytest.param(
            {"collection_interval_s": -1},
            [f"{PATH}::collection_interval_s: must be between 0.1 and 86400 seconds"],
            id="interval-negative",
        ),
        pytest.param(
            {"scrapers": {"cpu": None, "gpu": None}},
            [
                f"{PATH}::scrapers::gpu: unknown scraper (valid: cpu, load, memory, paging, disk,"
                " filesystem, network, process)"
            ],
            id="unknown-scraper",
        ),
        pytest.param(
            {"scrapers": {"cpu": {"metrics": {}}}},
            [f"{PATH}::scrapers::cpu: takes no settings; write 'cpu:' alone"],
            id="scraper-settings",
        ),
        pytest.param(
            {"scrapers": {}},
            [
                f"{PATH}::scrapers: name at least one of cpu, load, memory, paging, disk,"
                " filesystem, network, process, or leave scrapers out"
            ],
            id="no-scrapers",
        ),
        pytest.param(
            {"scrapers": ["cpu"]},
            [f"{PATH}::scrapers: expected a mapping, got list ['cpu']"],
            id="scrapers-as-list",
        ),
        pytest.param(
            {"per_core": True},
            [
                f"{PATH}::per_core: unknown key; did you mean 'per_cpu'? (valid keys:"
                " collection_interval_s, host_name, per_cpu, root_path, scrapers)"
            ],
            id="typo",
        ),
        pytest.param(
            {"root_path": "/no/such/hostfs"},
            [
                f"{PATH}::root_path: '/no/such/hostfs' has no proc directory; mount the"
                " host's / there (read-only) or leave root_path out"
            ],
            id="root-path-without-proc",
        ),
    ],
)
def test_config_problems(settings: dict[str, Any], expected: list[str]) -> None:
    """Each bad setting is named with its path and how to fix it."""
    problems: list[str] = []
    decode(HostmetricsReceiverConfig, settings, PATH, problems)
    assert problems == expected


def test_the_host_figures_tracker_reads_the_receivers_points() -> None:
    """What the hostmetrics receiver emits gives HostFiguresTracker the host's CPU and RAM."""
    from trainwire.collector.hostfigures import HostFiguresTracker

    sink = Sink()
    hostmetrics = receiver(
        sink, host_name="node-7", scrapers={"cpu": None, "memory": None}, collection_interval_s=0.2
    )
    collect_once(hostmetrics, sink, until=lambda: semconv.SYSTEM_CPU_UTILIZATION in names(sink))
    tracker = HostFiguresTracker()
    for request in sink.requests:
        tracker.observe(request)
    figures = tracker.latest("node-7")
    assert figures is not None
    assert figures.memory_total_bytes == psutil.virtual_memory().total
    assert (
        figures.memory_used_bytes is not None
        and 0 < figures.memory_used_bytes < figures.memory_total_bytes
    )
    assert figures.cpu_utilization is not None and 0 <= figures.cpu_utilization <= 1
