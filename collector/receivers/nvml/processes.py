"""Tell which run a GPU process (a pid as NVML reports it) belongs to.

NVML reports pids in the host's pid namespace; a run reports its ``process.pid`` in
its own. Where the collector sees the host's processes (bare metal, or a container
with the host's pid namespace and ``root_path``), ``/proc/<pid>/status`` gives the
pid in each nested namespace (``NSpid``) and ``/proc/<pid>/cgroup`` the Kubernetes pod
(``…pod<uid>…``), so a process in a pod is matched to the run whose ``k8s.pod.uid``
and ``process.pid`` it has. Otherwise a pid is matched to a run of this host
(same ``host.name``) with that ``process.pid``: the pid namespaces are the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from trainwire._resource_env import pod_uid_from_cgroup
from trainwire.collector.rundirectory import RunProcess

__all__ = ["ProcInfo", "RunMatcher", "read_proc"]


@dataclass(frozen=True)
class ProcInfo:
    """What ``/proc/<pid>`` tells about a process."""

    ns_pids: tuple[int, ...]
    """Its pid in each pid namespace, outermost (the one ``proc`` belongs to) first."""
    pod_uid: str | None
    """The Kubernetes pod it runs in, if any."""


def read_proc(proc: Path, pid: int) -> ProcInfo | None:
    """Read ``proc/<pid>``; None when it is not there or not readable."""
    try:
        status = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    ns_pids: tuple[int, ...] = (pid,)
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            ns_pids = tuple(int(p) for p in line.split()[1:]) or (pid,)
            break
    try:
        cgroup = (proc / str(pid) / "cgroup").read_text()
    except OSError:
        cgroup = ""
    return ProcInfo(ns_pids, pod_uid_from_cgroup(cgroup))


class RunMatcher:
    """Matches host pids to the live run ranks of one collection."""

    def __init__(self, runs: Iterable[RunProcess], *, host_name: str, proc: Path) -> None:
        self._runs = list(runs)
        self._host_name = host_name
        self._proc = proc
        self._local = {r.pid: r for r in self._runs if r.host == host_name and r.pid is not None}
        self._read: dict[int, ProcInfo | None] = {}

    def info(self, pid: int) -> ProcInfo | None:
        """``proc/<pid>``, read once per matcher (one collection)."""
        if pid not in self._read:
            self._read[pid] = read_proc(self._proc, pid)
        return self._read[pid]

    def pod_uid(self, pid: int) -> str | None:
        """The Kubernetes pod ``pid`` runs in, known runs or not (None outside pods)."""
        info = self.info(pid)
        return None if info is None else info.pod_uid

    def match(self, pid: int, *, helpers: bool = True) -> RunProcess | None:
        """The run rank whose process ``pid`` is, or None when no known run's.

        With ``helpers`` another process of a pod holding a single rank (a data
        loader worker, say) counts as that rank's; without, only the rank's own pid.
        """
        if not self._runs:
            return None
        info = self.info(pid)
        if info is not None and info.pod_uid is not None:
            in_pod = [r for r in self._runs if r.pod_uid == info.pod_uid]
            for run in in_pod:
                if run.pid == info.ns_pids[-1]:
                    return run
            if helpers and len(in_pod) == 1:  # a helper process of the pod's only rank
                return in_pod[0]
        if info is not None and len(info.ns_pids) > 1:
            return None  # in a nested namespace we cannot place: never guess
        return self._local.get(pid)
