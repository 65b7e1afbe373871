"""A run: the object a training script logs through.

Every method only builds a record and appends it to the sender's buffer; the
network and the store are the background thread's business. Timestamps are
strictly increasing within the run, so ``(run, time)`` identifies one call.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

from trainwire import _registry, semconv
from trainwire._artifact_methods import ArtifactMethods
from trainwire._familiar import FamiliarNames
from trainwire._instruments import Instruments
from trainwire.anyvalue import attributes_to_dict
from trainwire.errors import InvalidValueError, RunFinishedError
from trainwire.records import EventRecord, HistogramRecord, MetricRecord, new_uid
from trainwire.sender import Sender
from trainwire.values import as_mapping, as_step, check_encodable, check_metrics

__all__ = ["Run"]

logger = logging.getLogger("trainwire")
_EVERY_RANK_EVENTS = frozenset({semconv.EVENT_ALERT, semconv.EVENT_ARTIFACT})
"""What ranks other than 0 still send (besides start, end and heartbeats)."""
_FINISH_STATUSES = (semconv.STATUS_COMPLETED, semconv.STATUS_FAILED, semconv.STATUS_KILLED)


class Run(FamiliarNames, ArtifactMethods, Instruments):
    """One tracked run. Create it with :func:`trainwire.init`; use it as a context manager."""

    def __init__(
        self,
        run_id: str,
        *,
        name: str,
        experiment: str,
        config: Mapping[str, Any],
        sender: Sender,
        finish_timeout_s: float = 30.0,
        logs_scalars: bool = True,
        first_step: int | None = None,
    ) -> None:
        self._id = run_id
        self._name = name
        self._experiment = experiment
        self._config = MappingProxyType(dict(config))
        self._sender = sender
        self._finish_timeout_s = finish_timeout_s
        self._lock = threading.RLock()  # a SIGTERM handler may end the run mid-log()
        self._last_time = 0
        self._last_log_time = 0
        self._next_step = first_step or 0
        self._highest_step = (first_step or 0) - 1
        self._warned_step = False
        self._buffer = sender.buffer
        self._max_buffered = sender.max_buffered_records
        self._meter_provider: Any = None
        self._console: Any = None
        self._system: Any = None
        self._resource_attributes = attributes_to_dict(sender.resource.attributes)
        self._logs_scalars = logs_scalars
        """False on ranks other than 0 (unless all_ranks): their scalars are not sent."""
        self._start_ns = time.time_ns()
        self._finished = False
        self._forked = False
        _registry.add(self)

    @property
    def id(self) -> str:
        """The run id (``ml.run.id``)."""
        return self._id

    @property
    def run_id(self) -> str:
        """The run id (an alias of ``id``)."""
        return self._id

    @property
    def name(self) -> str:
        """The run's display name; assigning renames the run."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise InvalidValueError(f"a run name must be a non-empty string, got {value!r}")
        self._event(semconv.EVENT_RUN_RENAME, {"name": value})
        self._name = value

    @property
    def experiment(self) -> str:
        """The experiment the run belongs to."""
        return self._experiment

    @property
    def group(self) -> str | None:
        """The group the run belongs to, if any."""
        group = self._resource_attributes.get(semconv.ML_RUN_GROUP)
        return None if group is None else str(group)

    @property
    def config(self) -> Mapping[str, Any]:
        """The config given to ``init()``, read-only."""
        return self._config

    @property
    def run_dir(self) -> Path:
        """The run's local directory (its spool, until everything is delivered)."""
        return self._sender.spool.directory.parent

    @property
    def finished(self) -> bool:
        """Whether ``finish()`` has been called."""
        return self._finished

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log scalar metrics at ``step`` (default: one more than the last step).

        Raises:
            InvalidValueError: a key is not a name, or a value is not a number.
            RunFinishedError: the run has finished.
        """
        # The training thread's hot path: every line here is paid per call.
        values = check_metrics(metrics)
        if step is not None:
            step = as_step(step)
        if self._finished or self._forked:
            if not self._check_open():
                return
        if not self._logs_scalars:
            return
        # _claim(), inlined: the call alone costs ≈ 0.2 µs of the ≈ 1.7 µs a log() takes.
        lock = self._lock
        lock.acquire()
        try:
            if step is None:
                step = self._next_step
            elif step < self._highest_step and not self._warned_step:
                self._warn_lower_step(step)
            self._next_step = step + 1
            if step > self._highest_step:
                self._highest_step = step
            now = time.time_ns()
            if now <= self._last_time:
                now = self._last_time + 1
            self._last_time = self._last_log_time = now
        finally:
            lock.release()
        record = tuple.__new__(MetricRecord, (now, step, values))  # skips NamedTuple.__new__
        buffer = self._buffer
        if len(buffer) >= self._max_buffered:
            self._sender.put(record)  # waits for room, and says so once
        else:
            buffer.append(record)

    def _claim(self, step: int | None) -> tuple[int, int]:
        """The time and step of one log()/log_histogram() call (default: the next step)."""
        with self._lock:
            if step is None:
                step = self._next_step
            elif step < self._highest_step and not self._warned_step:
                self._warn_lower_step(step)
            self._next_step = step + 1
            if step > self._highest_step:
                self._highest_step = step
            now = self._last_log_time = self._tick()
        return now, step

    def _warn_lower_step(self, step: int) -> None:
        self._warned_step = True
        logger.warning(
            "trainwire: run %s logged step %d after step %d; both are kept (this warning is"
            " shown once)",
            self._id,
            step,
            self._highest_step,
        )

    def _histogram(
        self,
        key: str,
        bounds: list[float],
        counts: list[int],
        total: float,
        low: float,
        high: float,
        step: int | None,
    ) -> None:
        if step is not None:
            step = as_step(step)
        if not self._check_open() or not self._logs_scalars:
            return
        now, step = self._claim(step)
        self._sender.put(HistogramRecord(now, step, key, bounds, counts, total, low, high))

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters (nested mappings allowed; they read back with dotted keys)."""
        self._event(semconv.EVENT_RUN_PARAMS, as_mapping("params", params))

    def set_tag(self, key: str, value: Any) -> None:
        """Set a key/value tag on the run."""
        if not isinstance(key, str) or not key:
            raise InvalidValueError(f"tag keys must be non-empty strings, got {key!r}")
        self._event(semconv.EVENT_RUN_TAGS, {"set": {key: value}})

    def summary(self, values: Mapping[str, Any]) -> None:
        """Record final values (the best accuracy, the test score, ...)."""
        self._event(semconv.EVENT_RUN_SUMMARY, as_mapping("summary", values))

    def finish(self, status: str | None = None, *, timeout_s: float | None = None) -> None:
        """End the run and wait (at most ``timeout_s``) for its data to be delivered.

        Idempotent. ``status`` is ``completed`` (default), ``failed`` or ``killed``.
        It never hangs: data not delivered within the timeout is reported.
        """
        self._end(status or semconv.STATUS_COMPLETED, None, timeout_s)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything logged so far is delivered; False if ``timeout_s`` passed first."""
        if self._forked:
            return False  # the child holds no sender; its parent delivers the run
        if self._finished:
            return self._sender.undelivered_requests == 0
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        artifacts = self._flush_artifacts(timeout_s)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._sender.flush(left) and artifacts

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self._end(semconv.STATUS_COMPLETED, None, None)
        elif isinstance(exc, KeyboardInterrupt):
            self._end(semconv.STATUS_KILLED, exc, None)
        else:
            self._end(semconv.STATUS_FAILED, exc, None)

    def __repr__(self) -> str:
        return (
            f"<trainwire.Run id={self._id!r} name={self._name!r} experiment={self._experiment!r}>"
        )

    def _heartbeat_record(self) -> EventRecord:
        """The periodic liveness event: the sender thread calls this every heartbeat interval."""
        with self._lock:
            now = self._tick()
            body = {"last_log_time": self._last_log_time}
        return EventRecord(now, semconv.EVENT_RUN_HEARTBEAT, body, new_uid())

    def _end(
        self,
        status: str,
        exc: BaseException | None,
        timeout_s: float | None,
        exit_code: int | None = None,
    ) -> None:
        if status not in _FINISH_STATUSES:
            raise InvalidValueError(
                f"status must be one of {', '.join(_FINISH_STATUSES)}, got {status!r}"
            )
        if not self._finished and not self._forked:
            self._stop_instruments()
        with self._lock:
            if self._finished or self._forked:
                return
            self._finished = True
            now = self._tick()
        _registry.discard(self)
        timeout = self._finish_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        # Artifacts first: their ml.artifact events must precede ml.run.end.
        self._wait_for_artifacts(timeout)
        with self._lock:
            now = self._tick()
        body: dict[str, Any] = {"status": status, "duration_s": (now - self._start_ns) / 1e9}
        if exit_code is not None:
            body["exit_code"] = exit_code
        attributes = _exception_attributes(exc) if exc is not None else None
        self._sender.put(EventRecord(now, semconv.EVENT_RUN_END, body, new_uid(), attributes))
        delivered = self._sender.close(max(0.0, deadline - time.monotonic()))
        self._record_finished()
        if not delivered:
            logger.warning(
                "trainwire: finish() gave up after %.1fs: %d requests of run %s are undelivered"
                " and kept in %s; ship them with `trainwire sync %s`",
                timeout,
                self._sender.undelivered_requests,
                self._id,
                self._sender.spool.directory,
                self._sender.spool.directory.parent.parent,
            )
        from trainwire import _active

        _active.clear(self)

    def _record_finished(self) -> None:
        """Note in meta.json that the run ended here, so `trainwire sync` need not wait for us."""
        meta_path = self.run_dir / "meta.json"
        try:
            meta = json.loads(meta_path.read_text())
            meta["finished"] = True
            meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        except (OSError, ValueError):
            logger.debug("trainwire: could not update %s", meta_path, exc_info=True)

    def _event(self, name: str, body: Any, attributes: Mapping[str, Any] | None = None) -> None:
        if not self._check_open():
            return
        if not self._logs_scalars and name not in _EVERY_RANK_EVENTS:
            return
        if not isinstance(body, str):
            check_encodable(name, body)  # fail here, not silently on the sender thread
        with self._lock:
            now = self._tick()
        self._sender.put(EventRecord(now, name, body, new_uid(), attributes))

    def _tick(self) -> int:
        """A strictly increasing timestamp; call with the lock held."""
        now = time.time_ns()
        if now <= self._last_time:
            now = self._last_time + 1
        self._last_time = now
        return now

    def _check_open(self) -> bool:
        """Raise if finished; False (after one warning) in a forked child, which never sends."""
        if self._finished:
            raise RunFinishedError(
                f"run {self._id} has finished; start a new one with trainwire.init()"
            )
        if self._forked:
            _registry.warn_forked_child(self._id)
            return False
        return True

    def _at_exit(self) -> None:
        if not self._finished and not self._forked:
            self._end(semconv.STATUS_COMPLETED, None, None)

    def _after_fork_in_child(self) -> None:
        # The sender thread did not survive the fork, and the lock may have been held by a
        # thread that no longer exists: the child never sends (no double-send) and never waits.
        self._forked = True
        self._lock = threading.RLock()  # a SIGTERM handler may end the run mid-log()


def _exception_attributes(exc: BaseException) -> dict[str, str]:
    return {
        semconv.EXCEPTION_TYPE: type(exc).__qualname__,
        semconv.EXCEPTION_MESSAGE: str(exc),
        semconv.EXCEPTION_STACKTRACE: "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)
        ),
    }
