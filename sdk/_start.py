"""``trainwire.init()``: start a run and choose where its data goes."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import _active, _exit, semconv, settings
from trainwire._capture import environment
from trainwire._distributed import placement
from trainwire._resource_env import environment_attributes
from trainwire._run import Run
from trainwire.anyvalue import to_attributes
from trainwire.errors import ConfigError, InvalidValueError
from trainwire.records import EventRecord, new_uid
from trainwire.sender import Sender, SenderOptions
from trainwire.spool import Spool
from trainwire.transports.base import Transport
from trainwire.values import as_labels, as_mapping, as_step, check_encodable

__all__ = ["init"]

logger = logging.getLogger("trainwire")
_VERSION = "0.1.0"
_RUN_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def init(
    name: str | None = None,
    *,
    experiment: str = "default",
    config: Mapping[str, Any] | Any | None = None,
    tags: Sequence[str] | str | None = None,
    group: str | None = None,
    id: str | None = None,  # noqa: A002 - the name users type (W&B, whirr)
    resume: str | None = None,
    resume_from: int | None = None,
    endpoint: str | None = None,
    db_path: str | os.PathLike[str] | None = None,
    capture_git: bool = True,
    capture_pip: bool = True,
    capture_console: bool = True,
    system_metrics: bool = True,
    all_ranks: bool = False,
    dry_run: bool = False,
) -> Run:
    """Start a run and return it; it also becomes ``trainwire.run``.

    Args:
        name: display name (default: ``run-`` and the start of the id).
        experiment: the experiment the run belongs to.
        config: hyperparameters; a dict (nested allowed) or an argparse Namespace.
        tags: labels such as ``["baseline", "resnet"]``.
        group: groups related runs (a sweep, a cross-validation).
        id: the run id; every rank of a distributed job shares one (see README).
        resume: ``"allow"`` continues run ``id`` if it exists; ``"must"`` fails if it
            does not (checked against the embedded store).
        resume_from: rewind to this step: points the run logged after it earlier are
            set aside (superseded), and logging continues at the next step.
        endpoint: a trainwire collector, ``host:port`` or ``http://host:port``.
            Default: ``TRAINWIRE_ENDPOINT``, then ``OTEL_EXPORTER_OTLP_ENDPOINT``;
            with neither, the embedded default writes ``db_path``.
        db_path: the embedded store (default: ``TRAINWIRE_DB`` or ``./trainwire.db``).
        capture_git, capture_pip: record the git commit/branch/dirty state and the
            installed packages with the run.
        capture_console: send each line the script prints (stdout, stderr) as an
            ``ml.console`` event; the terminal still shows it.
        system_metrics: every ``TRAINWIRE_SYSTEM_METRICS_INTERVAL`` seconds (10), record
            this process's CPU and memory and the host's (needs ``trainwire[host]``).
        all_ranks: log scalars from every rank, not only rank 0.
        dry_run: print what would be sent; send and store nothing.

    Raises:
        InvalidValueError: an argument has the wrong type.
        ConfigError: a setting is malformed, or ``resume="must"`` finds no run.
    """
    config_map = {} if config is None else as_mapping("config", config)
    check_encodable("config", config_map)
    labels = as_labels(tags)
    _check_strings(name=name, group=group)
    if not isinstance(experiment, str) or not experiment:
        raise InvalidValueError(f"experiment must be a non-empty string, got {experiment!r}")
    if resume not in (None, "allow", "must"):
        raise InvalidValueError(f"resume must be None, 'allow' or 'must', got {resume!r}")
    where = placement()
    run_id = _run_id(id, where.shared_run_id, resume)
    resolved_endpoint = None if dry_run else settings.resolve_endpoint(endpoint)
    store_path = Path(db_path) if db_path else Path(settings.DB_PATH.get())
    next_step = _resume_point(run_id, resume, resume_from, resolved_endpoint, store_path, dry_run)
    name = name or f"run-{run_id[:6]}"
    run_dir = _make_run_dir(run_id, where.rank, resolved_endpoint, store_path, dry_run)
    transport = _transport(resolved_endpoint, store_path, dry_run)
    resource = _resource(run_id, experiment, where.rank, where.world_size, group)
    scope = InstrumentationScope(name=semconv.SCOPE_NAME, version=_VERSION)
    options = SenderOptions(heartbeat_interval_s=settings.HEARTBEAT_INTERVAL.get())
    sender = Sender(transport, resource, scope, Spool(run_dir / "spool"), options=options)
    run = Run(
        run_id,
        name=name,
        experiment=experiment,
        config=config_map,
        sender=sender,
        logs_scalars=all_ranks or where.rank == 0,
        first_step=next_step,
    )
    sender.heartbeat = run._heartbeat_record
    _exit.install()
    start_body: dict[str, Any] = {
        "name": name,
        "experiment": experiment,
        "group": group,
        "config": config_map,
        "tags": labels,
        "resumed": resume is not None and next_step is not None,
        "resume_from": resume_from,
        **environment(capture_git=capture_git, capture_pip=capture_pip),
    }
    sender.put(EventRecord(run._tick(), semconv.EVENT_RUN_START, start_body, new_uid()))
    if capture_console and not dry_run:
        run._capture_console()
    if system_metrics and not dry_run:
        run._sample_system(settings.SYSTEM_METRICS_INTERVAL.get())
    _active.set(run)
    return run


def _check_strings(**values: str | None) -> None:
    for key, value in values.items():
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidValueError(f"{key} must be a non-empty string, got {value!r}")


def _run_id(given: str | None, shared: str | None, resume: str | None) -> str:
    run_id = given or shared
    if run_id is None:
        if resume is not None:
            raise InvalidValueError(
                f"resume={resume!r} needs the id of the run to continue: id=..."
            )
        return uuid.uuid4().hex[:12]
    if not _RUN_ID.fullmatch(run_id):
        raise InvalidValueError(f"run id {run_id!r} must be 1-128 letters, digits, '.', '_' or '-'")
    return run_id


def _resume_point(
    run_id: str,
    resume: str | None,
    resume_from: int | None,
    endpoint: str | None,
    store_path: Path,
    dry_run: bool,
) -> int | None:
    """The step logging continues at, or None for a new run."""
    if resume_from is not None:
        if resume is None:
            raise InvalidValueError("resume_from needs resume='allow' or resume='must' and id=...")
        return as_step(resume_from) + 1
    if resume is None or dry_run:
        return None
    if endpoint:
        if resume == "must":
            raise ConfigError(
                "resume='must' checks the run store, which a collector does not serve yet;"
                " use resume='allow' (or resume_from=STEP) when sending to a collector"
            )
        return None
    last = _last_stored_step(run_id, store_path)
    if last is None and resume == "must":
        raise ConfigError(
            f"resume='must': no run '{run_id}' in {store_path}; check the id, or use"
            " resume='allow' to start it"
        )
    return None if last is None else last + 1


def _last_stored_step(run_id: str, store_path: Path) -> int | None:
    """The highest step the embedded store holds for the run (-1 if it has no points)."""
    if not store_path.exists():
        return None
    from trainwire.exporters.sqlite import StoreReader

    with StoreReader(store_path) as store:
        try:
            store.run(run_id)
        except LookupError:
            return None
        return store.last_step(run_id)


def _transport(endpoint: str | None, store_path: Path, dry_run: bool) -> Transport:
    if dry_run:
        from trainwire.transports.dry_run import DryRunTransport

        return DryRunTransport()
    if endpoint:
        from trainwire.transports.grpc import GrpcTransport

        transport = GrpcTransport(endpoint)
        # In the background: init() must not wait on the network.
        threading.Thread(target=_check_collector, args=(transport,), daemon=True).start()
        return transport
    from trainwire.transports.embedded import EmbeddedTransport

    return EmbeddedTransport(store_path)


def _check_collector(transport: Any) -> None:
    """Warn when the endpoint is a plain OpenTelemetry collector rather than trainwire's."""
    try:
        kind = transport.probe()
    except Exception:  # a probe must never disturb the run
        return
    if kind == "otel":
        logger.warning(
            "trainwire: %s is a plain OpenTelemetry collector, not a trainwire one: metrics"
            " and events reach it, but artifacts cannot be uploaded and nothing stores runs"
            " unless it forwards to a trainwire collector",
            transport.target,
        )


def _make_run_dir(
    run_id: str, rank: int, endpoint: str | None, store_path: Path, dry_run: bool
) -> Path:
    """Create the run's directory and record where its data goes, for `trainwire sync`."""
    run_dir = Path(settings.RUNS_DIR.get()) / (run_id if rank == 0 else f"{run_id}.rank{rank}")
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "run_id": run_id,
        "endpoint": endpoint,
        "db_path": None if endpoint else str(store_path.resolve()),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "dry_run": dry_run,
    }
    (run_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return run_dir


def _resource(
    run_id: str, experiment: str, rank: int, world_size: int, group: str | None
) -> Resource:
    # The environment's attributes first: the run's own always win.
    attributes: dict[str, Any] = {
        **environment_attributes(),
        semconv.ML_RUN_ID: run_id,
        semconv.ML_EXPERIMENT_NAME: experiment,
        semconv.SERVICE_NAME: experiment,
        semconv.SERVICE_INSTANCE_ID: semconv.service_instance_id(run_id, rank),
        semconv.ML_RUN_RANK: rank,
        semconv.ML_RUN_WORLD_SIZE: world_size,
        semconv.HOST_NAME: socket.gethostname(),
        semconv.PROCESS_PID: os.getpid(),
    }
    if group:
        attributes[semconv.ML_RUN_GROUP] = group
    return Resource(attributes=to_attributes(attributes))
