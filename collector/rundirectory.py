"""Which processes belong to which live run rank, for receivers that watch the host.

The nvml and hostmetrics receivers see processes (pids) and pods, not runs. The
liveness connector knows every live run rank from the Resource it sends (``ml.run.id``,
``ml.run.rank``, ``host.name``, ``process.pid``, ``k8s.pod.uid``) and tells the
process-wide :func:`run_directory` when a rank appears and when it ends; the
receivers read it each collection. Nothing here runs on the OTLP receiver's path:
the connector adds a rank once, when it first hears of it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import attributes_to_dict

__all__ = ["RunDirectory", "RunProcess", "run_directory"]


@dataclass(frozen=True)
class RunProcess:
    """One rank of a run, where it runs."""

    run_id: str
    rank: int
    host: str | None = None
    """``host.name`` as the SDK saw it (in a Kubernetes pod: the pod's name)."""
    pid: int | None = None
    """``process.pid`` in the run's own pid namespace."""
    pod_uid: str | None = None
    """``k8s.pod.uid``, when the run's Resource carries it."""
    experiment: str | None = None

    @classmethod
    def from_resource(cls, resource: Resource) -> RunProcess | None:
        """The rank a Resource describes, or None when it is not a run's."""
        attributes = attributes_to_dict(resource.attributes)
        run_id = attributes.get(semconv.ML_RUN_ID)
        if not isinstance(run_id, str) or not run_id:
            return None
        rank = attributes.get(semconv.ML_RUN_RANK, 0)
        pid = attributes.get(semconv.PROCESS_PID)
        host = attributes.get(semconv.HOST_NAME)
        pod = attributes.get(semconv.K8S_POD_UID)
        experiment = attributes.get(semconv.ML_EXPERIMENT_NAME)
        return cls(
            run_id=run_id,
            rank=rank if isinstance(rank, int) else 0,
            host=host if isinstance(host, str) else None,
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            pod_uid=pod if isinstance(pod, str) and pod else None,
            experiment=experiment if isinstance(experiment, str) else None,
        )

    def attributes(self) -> dict[str, str | int]:
        """The run attributes to put on a point about this rank's process."""
        attributes: dict[str, str | int] = {
            semconv.ML_RUN_ID: self.run_id,
            semconv.ML_RUN_RANK: self.rank,
        }
        if self.experiment is not None:
            attributes[semconv.ML_EXPERIMENT_NAME] = self.experiment
        return attributes


class RunDirectory:
    """The live run ranks, by ``(run id, rank)``; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ranks: dict[tuple[str, int], RunProcess] = {}

    def add(self, resource: Resource | bytes) -> None:
        """Note the rank a run's Resource (or its serialized bytes) describes."""
        if isinstance(resource, bytes):
            resource = Resource.FromString(resource)
        process = RunProcess.from_resource(resource)
        if process is not None:
            with self._lock:
                self._ranks[(process.run_id, process.rank)] = process

    def remove(self, run_id: str, rank: int) -> None:
        """Forget a rank that ended (or was declared crashed)."""
        with self._lock:
            self._ranks.pop((run_id, rank), None)

    def processes(self) -> tuple[RunProcess, ...]:
        """Every live rank."""
        with self._lock:
            return tuple(self._ranks.values())


_DIRECTORY = RunDirectory()


def run_directory() -> RunDirectory:
    """The collector process's run directory."""
    return _DIRECTORY
