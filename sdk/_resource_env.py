"""Resource attributes a run takes from its environment: ``OTEL_RESOURCE_ATTRIBUTES``
and, on Kubernetes, the pod it runs in (so the collector can tie GPU processes to runs).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from trainwire import semconv

__all__ = ["environment_attributes", "pod_uid_from_cgroup"]

# cgroup v1: .../kubepods/burstable/pod<uid>/<container>; the systemd driver writes
# .../kubepods-burstable-pod<uid with _ for ->.slice/...
_POD = re.compile(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")


def pod_uid_from_cgroup(cgroup: str) -> str | None:
    """The Kubernetes pod uid named in a ``/proc/<pid>/cgroup`` text, if any."""
    match = _POD.search(cgroup)
    return match.group(1).replace("_", "-") if match else None


def environment_attributes(cgroup_path: Path = Path("/proc/self/cgroup")) -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES`` (``key=value,...``, values percent-encoded, as the
    OpenTelemetry SDKs read it), plus ``k8s.pod.uid`` from our cgroup when not given.

    Pods whose cgroup namespace hides the path (cgroup v2) need the downward API:
    ``OTEL_RESOURCE_ATTRIBUTES=k8s.pod.uid=$(POD_UID)``.
    """
    attributes: dict[str, str] = {}
    for item in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            attributes[key.strip()] = urllib.parse.unquote(value.strip())
    if semconv.K8S_POD_UID not in attributes:
        try:
            uid = pod_uid_from_cgroup(cgroup_path.read_text())
        except OSError:
            uid = None
        if uid is not None:
            attributes[semconv.K8S_POD_UID] = uid
    return attributes
