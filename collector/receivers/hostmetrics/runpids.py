"""The host pid of each live run rank, for the ``process`` scraper.

A rank reports ``process.pid`` in its own pid namespace and, in a Kubernetes pod,
its ``k8s.pod.uid``; there its ``host.name`` is the pod's name, so an agent on the
node cannot find it by host name. A rank of this host (same ``host.name``) whose
pid ``proc`` confirms is taken as is. The others with a pod uid are looked for among
the host's processes (``<root_path>/proc``, in the host's pid namespace) by pod uid
(``/proc/<pid>/cgroup``) and innermost pid (``NSpid``), as the nvml receiver matches
GPU processes. A rank found once is checked again at its remembered host pid rather
than searched for anew.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from trainwire._resource_env import pod_uid_from_cgroup
from trainwire.collector.receivers.nvml.processes import RunMatcher, read_proc
from trainwire.collector.rundirectory import RunProcess

__all__ = ["RunPids"]

_RankKey = tuple[str, int]


class RunPids:
    """Finds live run ranks among the processes of one host's ``proc``."""

    def __init__(self, proc: Path, *, host_name: str) -> None:
        self._proc = proc
        self._host_name = host_name
        self._known: dict[_RankKey, int] = {}

    def find(self, runs: Iterable[RunProcess]) -> list[tuple[int, RunProcess]]:
        """``(host pid, rank)`` of every rank whose process is on this host."""
        ranks = [run for run in runs if run.pid is not None]
        matcher = RunMatcher(ranks, host_name=self._host_name, proc=self._proc)
        found: list[tuple[int, RunProcess]] = []
        wanted: dict[tuple[str, int], RunProcess] = {}
        for run in ranks:
            local = run.pid if run.host == self._host_name else None
            for pid in (self._known.get((run.run_id, run.rank)), local):
                if pid is not None and matcher.match(pid, helpers=False) == run:
                    found.append((pid, run))
                    break
            else:
                if run.pod_uid is not None and run.pid is not None:
                    wanted[(run.pod_uid, run.pid)] = run
        if wanted:
            found.extend(self._search(wanted))
        self._known = {(run.run_id, run.rank): pid for pid, run in found}
        return found

    def _search(self, wanted: dict[tuple[str, int], RunProcess]) -> list[tuple[int, RunProcess]]:
        """Host pids of pod ranks: each process's cgroup first, its status only in a wanted pod."""
        pods = {pod for pod, _ in wanted}
        found = []
        try:
            names = os.listdir(self._proc)
        except OSError:
            return []
        for name in names:
            if not name.isdigit():
                continue
            try:
                cgroup = (self._proc / name / "cgroup").read_text()
            except OSError:
                continue
            if pod_uid_from_cgroup(cgroup) not in pods:
                continue
            info = read_proc(self._proc, int(name))
            if info is None or info.pod_uid is None:
                continue
            run = wanted.pop((info.pod_uid, info.ns_pids[-1]), None)
            if run is not None:
                found.append((int(name), run))
                if not wanted:
                    break
        return found
