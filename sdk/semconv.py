"""The wire contract: every attribute, event and metric name trainwire puts on OTLP.

This is the one module that spells them (see DESIGN.md, "The wire contract").
A run is a Resource; each logged scalar is a Gauge point with a companion
``ml.step`` Gauge point at the same ``time_unix_nano``; everything else about a
run is an event, an OTLP LogRecord with ``event_name`` and ``event.name``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ARTIFACT_KINDS",
    "EVENT_ALERT",
    "EVENT_ARTIFACT",
    "EVENT_CONSOLE",
    "EVENT_NAMES",
    "EVENT_NAME_ATTRIBUTE",
    "EVENT_RUN_END",
    "EVENT_RUN_HEARTBEAT",
    "EVENT_RUN_METRIC_SPEC",
    "EVENT_RUN_PARAMS",
    "EVENT_RUN_RENAME",
    "EVENT_RUN_START",
    "EVENT_RUN_SUMMARY",
    "EVENT_RUN_TAGS",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_STACKTRACE",
    "EXCEPTION_TYPE",
    "HOST_NAME",
    "K8S_POD_UID",
    "LOG_IOSTREAM",
    "LOG_RECORD_UID",
    "METRIC_STEP",
    "ML_EXPERIMENT_NAME",
    "ML_RUN_GROUP",
    "ML_RUN_ID",
    "ML_RUN_RANK",
    "ML_RUN_WORLD_SIZE",
    "PROCESS_PID",
    "RUN_STATUSES",
    "SCOPE_NAME",
    "SERVICE_INSTANCE_ID",
    "SERVICE_NAME",
    "STATUS_COMPLETED",
    "STATUS_CRASHED",
    "STATUS_FAILED",
    "STATUS_KILLED",
    "STATUS_RUNNING",
    "TERMINAL_STATUSES",
    "service_instance_id",
]

# --- Resource attributes: the run (immutable for the run's lifetime) ---------------
ML_RUN_ID: Final = "ml.run.id"
"""Unique, stable across resume; shared by every rank of a distributed run."""
ML_EXPERIMENT_NAME: Final = "ml.experiment.name"
ML_RUN_RANK: Final = "ml.run.rank"
ML_RUN_WORLD_SIZE: Final = "ml.run.world_size"
ML_RUN_GROUP: Final = "ml.run.group"
# OpenTelemetry semantic conventions we fill in.
SERVICE_NAME: Final = "service.name"
"""Equals the experiment name unless set."""
SERVICE_INSTANCE_ID: Final = "service.instance.id"
"""``<run id>/<rank>``: one writer per stream (OTel single-writer rule, Prometheus ``instance``)."""
HOST_NAME: Final = "host.name"
PROCESS_PID: Final = "process.pid"
K8S_POD_UID: Final = "k8s.pod.uid"

# --- Metrics -------------------------------------------------------------------------
SCOPE_NAME: Final = "trainwire"
"""Instrumentation scope of the points the SDK makes from ``run.log()``."""
METRIC_STEP: Final = "ml.step"
"""Gauge carrying the step of the ``log()`` call at the same ``time_unix_nano``."""

# --- Events (LogRecords) ---------------------------------------------------------------
EVENT_NAME_ATTRIBUTE: Final = "event.name"
"""Older receivers read the event name from this attribute; newer ones from ``event_name``."""
LOG_RECORD_UID: Final = "log.record.uid"
"""Event identity: set when the record is made, kept through spool and queue."""
LOG_IOSTREAM: Final = "log.iostream"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

EVENT_RUN_START: Final = "ml.run.start"
EVENT_RUN_PARAMS: Final = "ml.run.params"
EVENT_RUN_TAGS: Final = "ml.run.tags"
EVENT_RUN_RENAME: Final = "ml.run.rename"
EVENT_RUN_METRIC_SPEC: Final = "ml.run.metric_spec"
EVENT_RUN_SUMMARY: Final = "ml.run.summary"
EVENT_RUN_HEARTBEAT: Final = "ml.run.heartbeat"
EVENT_RUN_END: Final = "ml.run.end"
EVENT_ARTIFACT: Final = "ml.artifact"
EVENT_ALERT: Final = "ml.alert"
EVENT_CONSOLE: Final = "ml.console"
EVENT_NAMES: Final = frozenset(
    {
        EVENT_RUN_START,
        EVENT_RUN_PARAMS,
        EVENT_RUN_TAGS,
        EVENT_RUN_RENAME,
        EVENT_RUN_METRIC_SPEC,
        EVENT_RUN_SUMMARY,
        EVENT_RUN_HEARTBEAT,
        EVENT_RUN_END,
        EVENT_ARTIFACT,
        EVENT_ALERT,
        EVENT_CONSOLE,
    }
)

ARTIFACT_KINDS: Final = ("file", "model", "text", "figure", "table")

# --- Run statuses (body field ``status`` of ``ml.run.end``) ------------------------------
STATUS_RUNNING: Final = "running"
STATUS_COMPLETED: Final = "completed"
STATUS_FAILED: Final = "failed"
STATUS_KILLED: Final = "killed"
STATUS_CRASHED: Final = "crashed"
TERMINAL_STATUSES: Final = (STATUS_COMPLETED, STATUS_FAILED, STATUS_KILLED, STATUS_CRASHED)
RUN_STATUSES: Final = (STATUS_RUNNING, *TERMINAL_STATUSES)


def service_instance_id(run_id: str, rank: int) -> str:
    """Return the ``service.instance.id`` of one rank of a run."""
    return f"{run_id}/{rank}"
