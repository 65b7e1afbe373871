"""Run leases of the embedded default: who owns a running run, and whether it still lives.

In the embedded default the store lives in the training process itself, so no
collector is left to notice that process being killed. The exporter (configured
with ``lease_s``) records, for every run it writes, this process's pid and the
machine's boot id in ``leases`` with an expiry it renews while it runs. Readers
treat a ``running`` run as ``crashed`` once its lease has expired and its process
is gone: same boot and the pid no longer alive, or another boot altogether.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Iterable
from functools import cache

from trainwire import semconv

__all__ = ["boot_id", "dead_runs", "pid_alive", "renew_leases", "take_lease"]

_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


@cache
def boot_id() -> str:
    """This machine's boot id ('' where the kernel does not expose one)."""
    try:
        with open(_BOOT_ID_PATH) as f:
            return f.read().strip()
    except OSError:
        return ""


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def take_lease(conn: sqlite3.Connection, run_id: str, rank: int, lease_s: float) -> None:
    """Record this process as the owner of ``run_id``'s ``rank`` until ``lease_s`` from now."""
    conn.execute(
        "INSERT INTO leases(run_id, rank, pid, boot_id, host, expires) VALUES (?,?,?,?,?,?)"
        " ON CONFLICT(run_id, rank) DO UPDATE SET pid = excluded.pid,"
        " boot_id = excluded.boot_id, host = excluded.host, expires = excluded.expires",
        (run_id, rank, os.getpid(), boot_id(), socket.gethostname(), _expiry(lease_s)),
    )


def renew_leases(conn: sqlite3.Connection, lease_s: float) -> int:
    """Extend every lease this process holds; return how many."""
    cursor = conn.execute(
        "UPDATE leases SET expires = ? WHERE pid = ? AND boot_id = ?",
        (_expiry(lease_s), os.getpid(), boot_id()),
    )
    return cursor.rowcount


def dead_runs(conn: sqlite3.Connection, now_ns: int | None = None) -> list[str]:
    """Ids of runs stored as running whose owning process is gone and lease expired."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    rows: Iterable[tuple[str, int, str]] = conn.execute(
        "SELECT l.run_id, l.pid, l.boot_id FROM leases l"
        " JOIN runs r ON r.run_id = l.run_id"
        " LEFT JOIN run_ranks k ON k.run_id = l.run_id AND k.rank = l.rank"
        " WHERE r.status = ? AND coalesce(k.status, ?) = ? AND l.expires < ?",
        (semconv.STATUS_RUNNING, semconv.STATUS_RUNNING, semconv.STATUS_RUNNING, now_ns),
    )
    me = boot_id()
    dead = {run_id for run_id, pid, boot in rows if boot != me or not pid_alive(int(pid))}
    return sorted(dead)


def _expiry(lease_s: float) -> int:
    return time.time_ns() + int(lease_s * 1e9)
