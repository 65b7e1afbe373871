"""Which run a GPU process belongs to: by pid in one pid namespace, by pod across them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trainwire.collector.receivers.nvml.processes import ProcInfo, RunMatcher, read_proc
from trainwire.collector.rundirectory import RunDirectory, RunProcess

POD = "0b5c7e1a-3f2d-4c55-9a1e-6d3b2f4a8c90"
OTHER_POD = "11111111-2222-3333-4444-555555555555"


def fake_proc(root: Path, pid: int, *, ns_pids: tuple[int, ...], cgroup: str) -> None:
    """Write /proc/<pid>/status and cgroup as Linux does (only the lines we read, and some others)."""
    directory = root / str(pid)
    directory.mkdir(parents=True)
    ns = "\t".join(str(p) for p in ns_pids)
    (directory / "status").write_text(
        f"Name:\tpython\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{pid}\nNgid:\t0\n"
        f"Pid:\t{pid}\nPPid:\t1\nNStgid:\t{ns}\nNSpid:\t{ns}\nNSpgid:\t{ns}\n"
    )
    (directory / "cgroup").write_text(cgroup)


CGROUP_V1 = (
    "12:memory:/kubepods/burstable/pod{uid}/4f1c2d\n"
    "11:cpu,cpuacct:/kubepods/burstable/pod{uid}/4f1c2d\n"
)
CGROUP_V2_SYSTEMD = "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid}.slice/cri-containerd-9a8b.scope\n"


@pytest.mark.parametrize(
    "cgroup",
    [
        pytest.param(CGROUP_V1.format(uid=POD), id="cgroup-v1-cgroupfs"),
        pytest.param(CGROUP_V2_SYSTEMD.format(uid=POD.replace("-", "_")), id="cgroup-v2-systemd"),
    ],
)
def test_read_proc_finds_the_pod_and_nested_pids(tmp_path: Path, cgroup: str) -> None:
    """Both cgroup layouts give the pod uid; NSpid gives the pid inside the container."""
    fake_proc(tmp_path, 48213, ns_pids=(48213, 7), cgroup=cgroup)
    assert read_proc(tmp_path, 48213) == ProcInfo((48213, 7), POD)


def test_read_proc_of_a_missing_process(tmp_path: Path) -> None:
    """A pid not in proc gives None."""
    assert read_proc(tmp_path, 4242) is None


def test_read_proc_of_this_process() -> None:
    """The real /proc of this process: one pid namespace level at least, ending in our pid as we see it."""
    info = read_proc(Path("/proc"), os.getpid())
    assert info is not None and info.ns_pids[0] == os.getpid()


def run(
    run_id: str, rank: int = 0, *, host: str = "node-7", pid: int, pod: str | None = None
) -> RunProcess:
    return RunProcess(run_id=run_id, rank=rank, host=host, pid=pid, pod_uid=pod)


def test_a_host_pid_in_a_pod_matches_the_run_with_that_pod_and_inner_pid(tmp_path: Path) -> None:
    """With the host's proc, host pid 48213 (pid 7 in pod P) is the rank of pod P with process.pid 7."""
    fake_proc(tmp_path, 48213, ns_pids=(48213, 7), cgroup=CGROUP_V1.format(uid=POD))
    fake_proc(tmp_path, 48300, ns_pids=(48300, 7), cgroup=CGROUP_V1.format(uid=OTHER_POD))
    runs = [
        run("a", 0, host="trainer-0", pid=7, pod=POD),
        run("a", 1, host="trainer-0", pid=8, pod=POD),
        run("b", 0, host="trainer-1", pid=7, pod=OTHER_POD),
    ]
    matcher = RunMatcher(runs, host_name="node-7", proc=tmp_path)
    assert matcher.match(48213) == runs[0]
    assert matcher.match(48300) == runs[2]


def test_a_helper_process_of_a_single_rank_pod_is_that_rank(tmp_path: Path) -> None:
    """A pod's other process (e.g. a compile worker) belongs to the pod's only rank."""
    fake_proc(tmp_path, 50000, ns_pids=(50000, 31), cgroup=CGROUP_V1.format(uid=POD))
    runs = [run("a", host="trainer-0", pid=7, pod=POD)]
    assert RunMatcher(runs, host_name="node-7", proc=tmp_path).match(50000) == runs[0]


def test_same_namespace_matches_by_pid_on_this_host_only(tmp_path: Path) -> None:
    """Without pods, pid 900 is the run of this host with process.pid 900, never another host's."""
    fake_proc(tmp_path, 900, ns_pids=(900,), cgroup="0::/user.slice\n")
    here = run("a", pid=900, host="node-7")
    there = run("b", pid=900, host="node-8")
    assert RunMatcher([there, here], host_name="node-7", proc=tmp_path).match(900) == here
    assert RunMatcher([there], host_name="node-7", proc=tmp_path).match(900) is None


def test_a_process_in_a_foreign_namespace_is_never_guessed(tmp_path: Path) -> None:
    """A containerised process (nested pids) without a matching pod is nobody's, even if the host pid collides."""
    fake_proc(tmp_path, 900, ns_pids=(900, 12), cgroup="0::/system.slice/docker-abc.scope\n")
    assert RunMatcher([run("a", pid=900)], host_name="node-7", proc=tmp_path).match(900) is None


def test_without_a_readable_proc_a_pid_of_this_host_still_matches(tmp_path: Path) -> None:
    """When proc cannot tell (no host pid access), a run of this host with the pid is taken."""
    runs = [run("a", pid=321)]
    assert RunMatcher(runs, host_name="node-7", proc=tmp_path).match(321) == runs[0]


def test_run_directory_follows_ranks_in_and_out() -> None:
    """A run Resource adds its rank; remove() forgets it; a Resource that is not a run's is ignored."""
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    from trainwire import semconv
    from trainwire.anyvalue import to_attributes

    directory = RunDirectory()
    directory.add(
        Resource(
            attributes=to_attributes(
                {
                    semconv.ML_RUN_ID: "r",
                    semconv.ML_RUN_RANK: 2,
                    semconv.HOST_NAME: "h",
                    semconv.PROCESS_PID: 5,
                    semconv.K8S_POD_UID: POD,
                    semconv.ML_EXPERIMENT_NAME: "exp",
                }
            )
        ).SerializeToString()
    )
    directory.add(Resource(attributes=to_attributes({semconv.HOST_NAME: "h"})))
    assert directory.processes() == (RunProcess("r", 2, "h", 5, POD, "exp"),)
    directory.remove("r", 2)
    assert directory.processes() == ()


def test_gpu_processes_in_pods_carry_the_pod_uid_even_with_no_run_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent that knows no run still says which pod each GPU process runs in, so its
    memory can be joined to a run by k8s.pod.uid (the run's target_info has it)."""
    from trainwire import semconv

    from .scraping import Sink, collect_once
    from .test_nvml import by_name, receiver, scenario

    root = tmp_path / "hostfs"
    fake_proc(root / "proc", 48213, ns_pids=(48213, 7), cgroup=CGROUP_V1.format(uid=POD))
    fake_proc(root / "proc", 5000, ns_pids=(5000,), cgroup="0::/system.slice/sshd.service\n")
    processes = [{"pid": 48213, "used_memory": 2**30}, {"pid": 5000, "used_memory": 2**20}]
    scenario(monkeypatch, devices=[{"processes": processes}])
    sink = Sink()
    collect_once(receiver(sink, RunDirectory(), root_path=str(root)), sink)
    pods = {
        attrs[semconv.PROCESS_PID]: attrs.get(semconv.K8S_POD_UID)
        for _, attrs in by_name(sink, semconv.NVML_GPU_PROCESS_MEMORY_USAGE)
    }
    assert pods == {48213: POD, 5000: None}
