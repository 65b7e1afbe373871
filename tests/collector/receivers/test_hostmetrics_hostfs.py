"""hostmetrics with ``root_path``: the host's ``/`` mounted in the collector's container.

The host root here is a directory laid out as a node's ``/`` looks from an agent pod
(``proc`` of the host's pid namespace, ``proc/1/mounts``); its process entries are
this test process's real ``/proc`` files under a host pid, with the ``NSpid`` and
``cgroup`` lines a process in a Kubernetes pod has.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil
import pytest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.collector.receivers.hostmetrics.mounts import host_mounts
from trainwire.collector.rundirectory import RunDirectory, RunProcess

from .scraping import Sink, collect_once, points
from .test_hostmetrics import names, receiver

POD = "0b5c7e1a-3f2d-4c55-9a1e-6d3b2f4a8c90"
HOST_PID = 4242
POD_PID = 7
CGROUP = f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{POD.replace('-', '_')}.slice/cri-containerd-9a8b.scope\n"


def host_root(tmp_path: Path) -> Path:
    """A node's ``/``: ``proc`` whose pid 4242 is this process seen from the host."""
    root = tmp_path / "hostfs"
    proc = root / "proc"
    entry = proc / str(HOST_PID)
    entry.mkdir(parents=True)
    (proc / "stat").symlink_to("/proc/stat")
    for name in ("stat", "statm", "io", "cmdline", "comm"):
        (entry / name).symlink_to(f"/proc/{os.getpid()}/{name}")
    status = Path(f"/proc/{os.getpid()}/status").read_text().splitlines()
    lines = [line for line in status if not line.startswith(("NSpid:", "Pid:", "Tgid:"))]
    lines += [f"Pid:\t{HOST_PID}", f"Tgid:\t{HOST_PID}", f"NSpid:\t{HOST_PID}\t{POD_PID}"]
    (entry / "status").write_text("\n".join(lines) + "\n")
    (entry / "cgroup").write_text(CGROUP)
    other = proc / "99"  # a process of another pod, same inner pid: never this run
    other.mkdir()
    (other / "status").write_text(f"Name:\tpython\nPid:\t99\nNSpid:\t99\t{POD_PID}\n")
    (other / "cgroup").write_text(CGROUP.replace("0b5c7e1a", "ffffffff"))
    return root


def pod_rank(**overrides: Any) -> RunProcess:
    """Rank 0 of run-p as its pod reports it: pod name as host.name, pid 7 inside the pod."""
    return RunProcess(
        **{"run_id": "run-p", "rank": 0, "host": "trainer-0", "pid": POD_PID, "pod_uid": POD}
        | overrides
    )


def directory_of(*ranks: RunProcess) -> RunDirectory:
    """A run directory fed the ranks' Resources, as the liveness connector feeds it."""
    directory = RunDirectory()
    for rank in ranks:
        attributes: dict[str, Any] = {
            semconv.ML_RUN_ID: rank.run_id,
            semconv.ML_RUN_RANK: rank.rank,
            semconv.HOST_NAME: rank.host,
            semconv.PROCESS_PID: rank.pid,
        }
        if rank.pod_uid:
            attributes[semconv.K8S_POD_UID] = rank.pod_uid
        directory.add(Resource(attributes=to_attributes(attributes)))
    assert set(directory.processes()) == set(ranks)
    return directory


def test_a_rank_in_a_pod_is_found_among_the_hosts_pids(tmp_path: Path) -> None:
    """An agent finds a pod's rank by pod uid and inner pid, though host.name is the pod's."""
    root = host_root(tmp_path)
    sink = Sink()
    hostmetrics = receiver(
        sink,
        directory_of(pod_rank(), pod_rank(run_id="run-elsewhere", pod_uid=None)),
        scrapers={"process": None},
        host_name="node-7",
        root_path=str(root),
        collection_interval_s=0.1,
    )
    collect_once(hostmetrics, sink, until=lambda: semconv.PROCESS_CPU_UTILIZATION in names(sink))
    found = {
        (n, a[semconv.ML_RUN_ID], a[semconv.PROCESS_PID]) for n, _, _, a, _ in points(sink.requests)
    }
    assert (semconv.PROCESS_MEMORY_USAGE, "run-p", POD_PID) in found
    assert {run for _, run, _ in found} == {"run-p"}
    memory = [v for n, _, v, _, _ in points(sink.requests) if n == semconv.PROCESS_MEMORY_USAGE]
    assert memory[0] > 10 * 2**20  # this test process's resident memory, read via pid 4242
    assert psutil.PROCFS_PATH == "/proc"  # put back when the receiver stopped


def test_without_root_path_a_pod_rank_of_another_host_name_is_not_found() -> None:
    """Without the host's proc, a rank whose host.name is not ours is not guessed at by pid."""
    sink = Sink()
    hostmetrics = receiver(
        sink,
        directory_of(pod_rank(pid=os.getpid())),
        scrapers={"process": None, "load": None},
        host_name="node-7",
    )
    collect_once(hostmetrics, sink)
    assert not any(n.startswith("process.") for n in names(sink))


def write_mounts(root: Path) -> None:
    (root / "data dir").mkdir(parents=True)
    (root / "proc" / "1").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "stat").symlink_to("/proc/stat")
    (root / "proc" / "filesystems").write_text(
        "nodev\tsysfs\nnodev\ttmpfs\nnodev\toverlay\n\text4\n\txfs\nnodev\tzfs\n"
    )
    (root / "proc" / "1" / "mounts").write_text(
        "/dev/nvme0n1p1 / ext4 rw,relatime 0 0\n"
        "proc /proc proc rw 0 0\n"
        "tmpfs /run tmpfs rw 0 0\n"
        "/dev/md0 /data\\040dir xfs rw 0 0\n"
        "/dev/nvme0n1p1 /var/lib/kubelet/pods/1/volumes/x ext4 rw 0 0\n"
        "overlay /var/lib/containerd/o/rootfs overlay rw 0 0\n"
        "tank/home /home zfs rw 0 0\n"
    )


def test_host_mounts_are_the_device_backed_mounts_of_the_hosts_init(tmp_path: Path) -> None:
    """proc/1/mounts, without pseudo file systems nor the pods' volume mounts; escapes undone."""
    root = tmp_path / "hostfs"
    write_mounts(root)
    found = {(m.device, m.mountpoint, m.fstype, m.path) for m in host_mounts(root)}
    assert found == {
        ("/dev/nvme0n1p1", "/", "ext4", root),
        ("/dev/md0", "/data dir", "xfs", root / "data dir"),
        ("tank/home", "/home", "zfs", root / "home"),
    }


def test_file_systems_are_reported_under_their_host_mount_points(tmp_path: Path) -> None:
    """With root_path, usage is measured through it and reported as the host's mount point."""
    root = tmp_path / "hostfs"
    write_mounts(root)
    sink = Sink()
    hostmetrics = receiver(sink, scrapers={"filesystem": None}, root_path=str(root))
    collect_once(hostmetrics, sink)
    mounts = {
        a[semconv.SYSTEM_FILESYSTEM_MOUNTPOINT]
        for n, _, _, a, _ in points(sink.requests)
        if n == semconv.SYSTEM_FILESYSTEM_UTILIZATION
    }
    assert mounts == {"/", "/data dir"}  # /home is not there to measure: skipped
    total = psutil.disk_usage(str(tmp_path))
    used = [
        v
        for n, _, v, a, _ in points(sink.requests)
        if n == semconv.SYSTEM_FILESYSTEM_USAGE and a[semconv.SYSTEM_FILESYSTEM_STATE] == "used"
    ]
    assert all(0 < value <= total.total for value in used)


@pytest.mark.parametrize("helpers", [True, False])
def test_a_pod_helper_process_is_not_the_rank_for_process_metrics(
    tmp_path: Path, helpers: bool
) -> None:
    """Process metrics are the rank's own process; a data-loader worker of its pod is not it."""
    from trainwire.collector.receivers.nvml.processes import RunMatcher

    root = host_root(tmp_path)
    worker = root / "proc" / "4300"
    worker.mkdir()
    (worker / "status").write_text("Name:\tpython\nPid:\t4300\nNSpid:\t4300\t31\n")
    (worker / "cgroup").write_text(CGROUP)
    matcher = RunMatcher([pod_rank()], host_name="node-7", proc=root / "proc")
    assert matcher.match(HOST_PID, helpers=helpers) == pod_rank()
    assert matcher.match(4300, helpers=helpers) == (pod_rank() if helpers else None)
