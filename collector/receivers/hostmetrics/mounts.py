"""The host's mounted file systems, read through its root mounted at ``root_path``.

In a container ``psutil.disk_partitions`` lists the container's own mounts. The
host's are those of its init process, ``<root>/proc/1/mounts``; each is measured
through ``<root><mount point>`` and reported under its host path. As psutil does
(``all=False``), only devices of file systems the kernel marks as backed by a
device (``/proc/filesystems`` without ``nodev``, and zfs) count; the mounts a
container runtime or the kubelet makes for pods are left out, as they repeat the
node's disks once per pod volume.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HostMount", "host_mounts"]

_ESCAPE = re.compile(r"\\([0-7]{3})")
_POD_MOUNTS = (
    "/var/lib/kubelet/",
    "/var/lib/docker/",
    "/var/lib/containerd/",
    "/run/containerd/",
    "/run/k3s/",
)


@dataclass(frozen=True)
class HostMount:
    """One host file system: what to report and where to measure it from here."""

    device: str
    mountpoint: str
    """As the host sees it (``/data``)."""
    fstype: str
    path: Path
    """Where this process can ``statvfs`` it (``/hostfs/data``)."""


def _unescape(field: str) -> str:
    """``/proc/*/mounts`` writes space, tab, newline and backslash as octal escapes."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def _device_filesystems(proc: Path) -> set[str]:
    kinds = set()
    for line in (proc / "filesystems").read_text().splitlines():
        fields = line.split()
        if len(fields) == 1:
            kinds.add(fields[0])
        elif fields == ["nodev", "zfs"]:
            kinds.add("zfs")
    return kinds


def host_mounts(root: Path) -> list[HostMount]:
    """The host's device-backed mounts, one per mount point.

    Raises:
        OSError: ``<root>/proc/1/mounts`` cannot be read (no host pid namespace).
    """
    proc = root / "proc"
    kinds = _device_filesystems(proc)
    found: dict[str, HostMount] = {}
    for line in (proc / "1" / "mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        device, mountpoint, fstype = (_unescape(f) for f in fields[:3])
        if device in ("", "none") or fstype not in kinds or mountpoint.startswith(_POD_MOUNTS):
            continue
        path = root / mountpoint.lstrip("/")
        found[mountpoint] = HostMount(device, mountpoint, fstype, path)  # the last mount wins
    return list(found.values())
