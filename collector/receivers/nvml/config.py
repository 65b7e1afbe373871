"""Config of the nvml receiver."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NvmlReceiverConfig"]

_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class NvmlReceiverConfig:
    """Settings of the ``nvml`` receiver."""

    collection_interval_s: float = 10.0
    """How often every GPU is read."""
    required: bool = False
    """Fail the collector's start when NVML or a GPU is missing; by default the
    receiver logs one line and stays idle, so one config serves GPU and CPU nodes."""
    library: str = "pynvml"
    """The module offering NVML's Python API (nvidia-ml-py's ``pynvml``); tests name
    ``trainwire.collector.receivers.nvml.fake``."""
    per_process: bool = True
    """Report each process's GPU memory, with the run it belongs to when known."""
    root_path: str = ""
    """Where the host's root file system is mounted when the collector runs in a
    container (e.g. ``/hostfs``): its ``proc`` tells host pids and pods apart."""
    host_name: str = ""
    """``host.name`` of the points; empty means this machine's name, as the SDK reports."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        if not 0.1 <= self.collection_interval_s <= 86400:
            problems.append("collection_interval_s: must be between 0.1 and 86400 seconds")
        if not _MODULE.match(self.library):
            problems.append(
                f"library: {self.library!r} is not a module name; leave it out for pynvml"
            )
        elif self.library != "pynvml" and not _findable(self.library):
            problems.append(
                f"library: no module named {self.library!r} can be imported; leave it out"
                " for nvidia-ml-py's pynvml"
            )
        if self.root_path and not (Path(self.root_path) / "proc").is_dir():
            problems.append(
                f"root_path: {self.root_path!r} has no proc directory; mount the host's /"
                " there (read-only) or leave root_path out"
            )
        return problems


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
