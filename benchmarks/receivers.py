"""Collection cost of the nvml and hostmetrics receivers, and of the host-figures tracker.

Prints, for this machine, the CPU time (user + system of this process) of:
  nvml         one collection of --gpus GPUs with --procs processes each, through the
               fake NVML library (the real one adds the driver's own time)
  hostmetrics  one collection with every scraper, --runs run processes included
  hostfigures  HostFiguresTracker.observe() of one nvml plus one hostmetrics request
  run pids     the hostmetrics process scraper's search of this host's pids for a rank
               in a pod it does not find (what each collection costs then)

Usage: python benchmarks/receivers.py [--gpus 8] [--procs 4] [--runs 8] [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.collector.component import ComponentID
from trainwire.collector.hostfigures import HostFiguresTracker
from trainwire.collector.receivers.hostmetrics import (
    HostmetricsReceiver,
    HostmetricsReceiverConfig,
)
from trainwire.collector.receivers.hostmetrics.runpids import RunPids
from trainwire.collector.receivers.nvml import NvmlReceiver, NvmlReceiverConfig
from trainwire.collector.receivers.nvml import fake as fake_nvml
from trainwire.collector.rundirectory import RunDirectory, RunProcess


def cpu_ms(
    work: Callable[[], Any], repeat: int, prepare: Callable[[], Any] = lambda: None
) -> tuple[float, float]:
    """Median and p90 CPU milliseconds of one call of ``work`` (each after ``prepare()``)."""
    samples = []
    for _ in range(repeat):
        prepare()
        start = time.process_time()
        work()
        samples.append((time.process_time() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


def directory_with_runs(pids: list[int], host: str) -> RunDirectory:
    """One rank of run ``bench`` per pid, on ``host``."""
    directory = RunDirectory()
    for rank, pid in enumerate(pids):
        attributes = {
            semconv.ML_RUN_ID: "bench",
            semconv.ML_RUN_RANK: rank,
            semconv.HOST_NAME: host,
            semconv.PROCESS_PID: pid,
        }
        directory.add(Resource(attributes=to_attributes(attributes)))
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--procs", type=int, default=4, help="GPU processes per GPU")
    parser.add_argument("--runs", type=int, default=8, help="run processes on the host")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    host = "bench-host"
    # Each rank a process of its own (two ranks never share a pid).
    sleepers = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        for _ in range(args.runs)
    ]
    try:
        measure(args, host, directory_with_runs([p.pid for p in sleepers], host))
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()


def measure(args: argparse.Namespace, host: str, directory: RunDirectory) -> None:
    """Print the CPU time of each collection."""

    processes = [{"pid": os.getpid() + i, "used_memory": 2**30} for i in range(args.procs)]
    devices = [{"uuid": f"GPU-{i:08d}", "processes": processes} for i in range(args.gpus)]
    os.environ[fake_nvml.ENV_VAR] = json.dumps({"devices": devices})
    nvml = NvmlReceiver(
        NvmlReceiverConfig(library=fake_nvml.__name__, host_name=host),
        id=ComponentID("nvml"),
        next_consumers={},
        directory=directory,
    )
    assert nvml.open()
    hostmetrics = HostmetricsReceiver(
        HostmetricsReceiverConfig(host_name=host),
        id=ComponentID("hostmetrics"),
        next_consumers={},
        directory=directory,
    )
    assert hostmetrics.open()
    scrapers: Any = hostmetrics._scrapers
    baseline = scrapers._cpu_times
    time.sleep(0.2)  # CPU utilization needs readings some time apart
    hostmetrics.collect()  # the process scraper's first reading only sets a baseline

    def rewind_cpu_baseline() -> None:
        # Back-to-back collections are too close for CPU utilization, which then skips
        # its work; measuring it as at a real interval needs the old reading back.
        scrapers._cpu_times = baseline

    rewind_cpu_baseline()
    gpu_request, host_request = nvml.collect(), hostmetrics.collect()
    assert gpu_request is not None and host_request is not None
    tracker = HostFiguresTracker()

    def observe() -> None:
        tracker.observe(gpu_request)
        tracker.observe(host_request)

    def count(request: Any) -> int:
        return sum(
            len(getattr(m, m.WhichOneof("data")).data_points)
            for rm in request.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        )

    # A rank in a pod this host does not run: every collection reads each host pid's cgroup.
    pod_rank = RunProcess("pod-run", 0, host="trainer-0", pid=7, pod_uid=str(uuid.uuid4()))
    search = RunPids(Path("/proc"), host_name=host)
    host_pids = [name for name in os.listdir("/proc") if name.isdigit()]

    rows = [
        (f"nvml: {args.gpus} GPUs × {args.procs} processes", nvml.collect, count(gpu_request)),
        (
            f"hostmetrics: all scrapers, {args.runs} run processes",
            hostmetrics.collect,
            count(host_request),
        ),
        ("hostfigures: observe both requests", observe, count(gpu_request) + count(host_request)),
        (
            f"run pids: a pod rank not found, {len(host_pids)} host pids read",
            lambda: search.find([pod_rank]),
            0,
        ),
    ]
    print(f"{'collection':<48} {'points':>7} {'CPU ms p50':>11} {'p90':>7}")
    for label, work, points in rows:
        prepare = rewind_cpu_baseline if work == hostmetrics.collect else (lambda: None)
        p50, p90 = cpu_ms(work, args.repeat, prepare)
        print(f"{label:<48} {points:>7} {p50:>11.2f} {p90:>7.2f}")
    nvml.close()


if __name__ == "__main__":
    main()
