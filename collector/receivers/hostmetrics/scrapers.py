"""Read the host with psutil into points under OpenTelemetry's ``system.*`` and ``process.*`` names.

CPU utilization is worked out here from successive ``cpu_times`` rather than with
``psutil.cpu_percent``, whose baseline is shared by everything in the process.
Counters (disk and network bytes) count since the host booted.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from trainwire import semconv
from trainwire.collector.receivers.hostmetrics.mounts import host_mounts
from trainwire.collector.receivers.scraper import PointsBuilder
from trainwire.collector.rundirectory import RunProcess

__all__ = ["HostScrapers"]

logger = logging.getLogger(__name__)

_IDLE_FIELDS = ("idle", "iowait")
_MIN_SPAN_S = 0.05  # CPU seconds per CPU between readings: 5 clock ticks at USER_HZ 100
_SKIPPED_DISKS = ("loop", "ram")  # pseudo block devices: many, and never the bottleneck


def _total(times: Any) -> float:
    # Linux counts guest time inside user and nice as well, as psutil.cpu_percent knows.
    return float(sum(times)) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


def _busy_share(before: Any, after: Any) -> float | None:
    total = _total(after) - _total(before)
    if total <= 0:
        return None
    idle = sum(getattr(after, f, 0.0) - getattr(before, f, 0.0) for f in _IDLE_FIELDS)
    return min(1.0, max(0.0, 1.0 - idle / total))


class HostScrapers:
    """The scrapers of one receiver, with what they remember between collections."""

    def __init__(self, psutil: Any, *, per_cpu: bool, root: Path | None = None) -> None:
        self._psutil = psutil
        self._per_cpu = per_cpu
        self._root = root
        self._cpu_times = psutil.cpu_times(percpu=True)
        self._boot_ns = int(psutil.boot_time() * 1e9)
        self._processes: dict[tuple[int, str, int], Any] = {}

    def cpu(self, points: PointsBuilder) -> None:
        """``system.cpu.utilization``: the whole host, and each logical CPU."""
        now = self._psutil.cpu_times(percpu=True)
        before = self._cpu_times
        if len(before) != len(now):
            self._cpu_times = now
            return  # a CPU went on- or offline: start over
        if _total(_sum_times(now)) - _total(_sum_times(before)) < _MIN_SPAN_S * len(now):
            return  # too soon after the last reading (the first collection) to mean much
        self._cpu_times = now
        total = _busy_share(_sum_times(before), _sum_times(now))
        if total is not None:
            points.gauge(semconv.SYSTEM_CPU_UTILIZATION, "1", total)
        if self._per_cpu:
            for number, (b, a) in enumerate(zip(before, now, strict=True)):
                share = _busy_share(b, a)
                if share is not None:
                    attrs = {semconv.CPU_LOGICAL_NUMBER: number}
                    points.gauge(semconv.SYSTEM_CPU_UTILIZATION, "1", share, attrs)

    def load(self, points: PointsBuilder) -> None:
        """``system.cpu.load_average.{1m,5m,15m}``."""
        for name, value in zip(
            (
                semconv.SYSTEM_CPU_LOAD_AVERAGE_1M,
                semconv.SYSTEM_CPU_LOAD_AVERAGE_5M,
                semconv.SYSTEM_CPU_LOAD_AVERAGE_15M,
            ),
            self._psutil.getloadavg(),
            strict=True,
        ):
            points.gauge(name, "{thread}", value)

    def memory(self, points: PointsBuilder) -> None:
        """``system.memory.usage`` and ``.utilization`` per state, ``system.memory.limit``."""
        vm = self._psutil.virtual_memory()
        points.gauge(semconv.SYSTEM_MEMORY_LIMIT, "By", vm.total)
        for state in ("used", "free", "buffers", "cached"):
            value = getattr(vm, state, None)
            if value is None:
                continue
            attrs = {semconv.SYSTEM_MEMORY_STATE: state}
            points.gauge(semconv.SYSTEM_MEMORY_USAGE, "By", value, attrs)
            if vm.total:
                points.gauge(semconv.SYSTEM_MEMORY_UTILIZATION, "1", value / vm.total, attrs)

    def paging(self, points: PointsBuilder) -> None:
        """``system.paging.usage`` and ``.utilization`` (swap) per state."""
        swap = self._psutil.swap_memory()
        for state in ("used", "free"):
            value = getattr(swap, state)
            attrs = {semconv.SYSTEM_PAGING_STATE: state}
            points.gauge(semconv.SYSTEM_PAGING_USAGE, "By", value, attrs)
            if swap.total:
                points.gauge(semconv.SYSTEM_PAGING_UTILIZATION, "1", value / swap.total, attrs)

    def disk(self, points: PointsBuilder) -> None:
        """``system.disk.io``: bytes read and written per block device since boot."""
        counters = self._psutil.disk_io_counters(perdisk=True) or {}
        for device, io in sorted(counters.items()):
            if device.startswith(_SKIPPED_DISKS):
                continue
            for direction, value in (("read", io.read_bytes), ("write", io.write_bytes)):
                attrs = {semconv.SYSTEM_DEVICE: device, semconv.DISK_IO_DIRECTION: direction}
                points.counter(
                    semconv.SYSTEM_DISK_IO, "By", value, attrs, start_time_unix_nano=self._boot_ns
                )

    def filesystem(self, points: PointsBuilder) -> None:
        """``system.filesystem.usage`` and ``.utilization`` per mounted file system.

        With a root path, the host's mounts, measured through it (see :mod:`.mounts`).
        """
        if self._root is not None:
            mounts = [
                (m.device, m.mountpoint, m.fstype, str(m.path)) for m in host_mounts(self._root)
            ]
        else:
            mounts = [
                (p.device, p.mountpoint, p.fstype, p.mountpoint)
                for p in self._psutil.disk_partitions(all=False)
            ]
        for device, mountpoint, fstype, path in mounts:
            try:
                usage = self._psutil.disk_usage(path)
            except OSError:  # gone, or not ours to read
                continue
            base = {
                semconv.SYSTEM_DEVICE: device,
                semconv.SYSTEM_FILESYSTEM_MOUNTPOINT: mountpoint,
                semconv.SYSTEM_FILESYSTEM_TYPE: fstype,
            }
            for state in ("used", "free"):
                attrs = {**base, semconv.SYSTEM_FILESYSTEM_STATE: state}
                points.gauge(semconv.SYSTEM_FILESYSTEM_USAGE, "By", getattr(usage, state), attrs)
            if usage.total:
                share = usage.used / usage.total
                points.gauge(semconv.SYSTEM_FILESYSTEM_UTILIZATION, "1", share, base)

    def network(self, points: PointsBuilder) -> None:
        """``system.network.io``: bytes received and sent per interface since boot."""
        counters = self._psutil.net_io_counters(pernic=True) or {}
        for interface, io in sorted(counters.items()):
            for direction, value in (("receive", io.bytes_recv), ("transmit", io.bytes_sent)):
                attrs = {
                    semconv.NETWORK_INTERFACE_NAME: interface,
                    semconv.NETWORK_IO_DIRECTION: direction,
                }
                points.counter(
                    semconv.SYSTEM_NETWORK_IO,
                    "By",
                    value,
                    attrs,
                    start_time_unix_nano=self._boot_ns,
                )

    def process(self, points: PointsBuilder, runs: list[tuple[int, RunProcess]]) -> None:
        """``process.cpu.utilization``, ``.memory.usage``, ``.thread.count`` of run processes.

        ``runs`` pairs each rank with its pid as this ``proc`` numbers it (the host's).
        """
        cpus = self._psutil.cpu_count() or 1
        seen = set()
        for pid, run in runs:
            key = (pid, run.run_id, run.rank)
            seen.add(key)
            try:
                proc = self._processes.get(key)
                first = proc is None
                if proc is None:
                    proc = self._processes[key] = self._psutil.Process(pid)
                with proc.oneshot():
                    cpu = proc.cpu_percent(None)
                    rss = proc.memory_info().rss
                    threads = proc.num_threads()
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                self._processes.pop(key, None)
                continue
            attrs = {semconv.PROCESS_PID: run.pid or pid, **run.attributes()}
            if not first:  # the first reading only sets the baseline
                points.gauge(semconv.PROCESS_CPU_UTILIZATION, "1", cpu / 100 / cpus, attrs)
            points.gauge(semconv.PROCESS_MEMORY_USAGE, "By", rss, attrs)
            points.gauge(semconv.PROCESS_THREAD_COUNT, "{thread}", threads, attrs)
        for key in set(self._processes) - seen:  # ranks that ended
            del self._processes[key]


def _sum_times(per_cpu: list[Any]) -> Any:
    """Field-wise sum of per-CPU times, shaped like one CPU's."""
    first = per_cpu[0]
    return type(first)(*(sum(values) for values in zip(*per_cpu, strict=True)))
