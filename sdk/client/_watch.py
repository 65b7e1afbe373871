"""Waiting for a run to end or an artifact to exist: polling, status reports, a watch thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainwire.client._http import ClientError
from trainwire.errors import ArtifactNotFoundError

__all__ = ["ArtifactStatus", "ArtifactWatch", "poll_artifact", "poll_run"]

ENDED = frozenset({"completed", "failed", "killed"})
"""Statuses after which nothing more arrives. A crashed run may still be synced."""


@dataclass(frozen=True)
class ArtifactStatus:
    """One state of a wait for an artifact, as reported to ``on_status``.

    ``state`` is ``"waiting"`` (the run is running, the artifact is not there yet),
    ``"run_crashed"`` (still waiting: ``trainwire sync`` may yet deliver it),
    ``"run_ended"`` (it ended without the artifact: the wait fails next),
    ``"unreachable"`` (the server stopped answering; ``run_status`` is the last one
    seen, and polling goes on) or ``"available"`` (``artifact`` holds its metadata).
    """

    state: str
    run_id: str
    run_status: str
    name: str
    elapsed_s: float
    artifact: dict[str, Any] | None = None


_STATES = {"crashed": "run_crashed", **{status: "run_ended" for status in ENDED}}


class _Stopped(Exception):
    """The watch was cancelled."""


def poll_run(
    get_run: Callable[[], dict[str, Any]],
    *,
    timeout: float | None,
    poll_interval: float,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Call ``get_run`` until the run's status is no longer ``running``; return the run.

    Once a poll has succeeded, a server that stops answering (restarting, say) is
    polled again until ``timeout`` rather than ending the wait.
    """
    start = time.monotonic()
    run: dict[str, Any] | None = None
    while True:
        try:
            run = get_run()
        except ClientError as exc:
            if run is None or not exc.transient:
                raise
        else:
            if run.get("status") != "running":
                return run
        _sleep(start, timeout, poll_interval, stop, f"run {run.get('id')} still running")


def poll_artifact(
    get_run: Callable[[], dict[str, Any]],
    find: Callable[[], dict[str, Any] | None],
    name: str,
    *,
    timeout: float | None,
    poll_interval: float,
    on_status: Callable[[ArtifactStatus], None] | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Poll until the artifact ``name`` exists; report each change of state to ``on_status``.

    Once a poll has succeeded, a server that stops answering is reported
    (``unreachable``) and polled again until ``timeout``.

    Raises:
        ArtifactNotFoundError: the run ended (completed, failed, killed) without it.
        TimeoutError: ``timeout`` seconds passed first.
    """
    start = time.monotonic()
    last: tuple[str, str] | None = None
    run: dict[str, Any] | None = None
    while True:
        artifact = None
        try:
            run = get_run()  # first: an unknown run raises RunNotFoundError at once
            artifact = find()
            status = str(run.get("status"))
            state = "available" if artifact else _STATES.get(status, "waiting")
        except ClientError as exc:
            if run is None or not exc.transient:
                raise
            status, state = str(run.get("status")), "unreachable"
        if (state, status) != last and on_status is not None:
            elapsed = time.monotonic() - start
            run_id = str(run.get("id"))
            on_status(ArtifactStatus(state, run_id, status, name, elapsed, artifact))
        last = (state, status)
        if artifact:
            return artifact
        if status in ENDED and state != "unreachable":
            raise ArtifactNotFoundError(
                f"run {run.get('id')} ended ({status}) without an artifact named {name!r};"
                " `trainwire artifacts RUN` lists the ones it has"
            )
        _sleep(start, timeout, poll_interval, stop, f"run {run.get('id')} has no artifact {name!r}")


def _sleep(
    start: float,
    timeout: float | None,
    interval: float,
    stop: threading.Event | None,
    what: str,
) -> None:
    wait = interval
    if timeout is not None:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            raise TimeoutError(f"{what} after {timeout:g} s")
        wait = min(interval, left)
    if stop is not None:
        if stop.wait(wait):
            raise _Stopped
    else:
        time.sleep(wait)


class ArtifactWatch:
    """A wait for an artifact running in a background thread (see ``Client.watch_artifact``)."""

    def __init__(self, target: Callable[[threading.Event], dict[str, Any]], name: str) -> None:
        self._stop = threading.Event()
        self._result: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(target,), name=name, daemon=True)
        self._thread.start()

    def _run(self, target: Callable[[threading.Event], dict[str, Any]]) -> None:
        try:
            self._result = target(self._stop)
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to whoever joins
            self._error = exc

    @property
    def done(self) -> bool:
        """Whether the watch has ended (found, failed, timed out or cancelled)."""
        return not self._thread.is_alive()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._stop.is_set()

    def cancel(self) -> None:
        """Stop watching; the thread ends at its next poll."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Wait for the watch to end; return the artifact's metadata (None if cancelled).

        Raises:
            TimeoutError: the watch itself timed out, or is still running after ``timeout``.
            Exception: whatever ended the watch (RunNotFoundError, ArtifactNotFoundError, ...).
        """
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"still watching after {timeout:g} s")
        if self._error is not None:
            raise self._error
        return self._result
