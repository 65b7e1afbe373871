"""``trainwire.init()``: start a run and choose where its data goes."""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import _active, _exit, semconv, settings
from trainwire._run import Run
from trainwire.anyvalue import to_attributes
from trainwire.errors import InvalidValueError
from trainwire.records import EventRecord, new_uid
from trainwire.sender import Sender, SenderOptions
from trainwire.spool import Spool
from trainwire.transports.base import Transport

__all__ = ["init"]

_VERSION = "0.1.0"


def init(
    name: str | None = None,
    *,
    experiment: str = "default",
    config: Mapping[str, Any] | Any | None = None,
    tags: Sequence[str] | str | None = None,
    endpoint: str | None = None,
    db_path: str | os.PathLike[str] | None = None,
) -> Run:
    """Start a run and return it; it also becomes ``trainwire.run``.

    Args:
        name: display name (default: ``run-`` and the start of the id).
        experiment: the experiment the run belongs to.
        config: hyperparameters; a dict (nested allowed) or an argparse Namespace.
        tags: labels such as ``["baseline", "resnet"]``.
        endpoint: a trainwire collector, ``host:port`` or ``http://host:port``.
            Default: ``TRAINWIRE_ENDPOINT``, then ``OTEL_EXPORTER_OTLP_ENDPOINT``;
            with neither, the embedded default writes ``db_path``.
        db_path: the embedded store (default: ``TRAINWIRE_DB`` or ``./trainwire.db``).

    Raises:
        InvalidValueError: an argument has the wrong type.
        ConfigError: an environment variable or the endpoint is malformed.
    """
    config_map = _config_mapping(config)
    labels = _labels(tags)
    if name is not None and not isinstance(name, str):
        raise InvalidValueError(f"name must be a string, got {type(name).__name__}")
    if not isinstance(experiment, str) or not experiment:
        raise InvalidValueError(f"experiment must be a non-empty string, got {experiment!r}")
    run_id = uuid.uuid4().hex[:12]
    name = name or f"run-{run_id[:6]}"
    resolved_endpoint = settings.resolve_endpoint(endpoint)
    store_path = Path(db_path) if db_path else Path(settings.DB_PATH.get())
    run_dir = _make_run_dir(run_id, resolved_endpoint, store_path)
    transport = _transport(resolved_endpoint, store_path)
    resource = _resource(run_id, experiment)
    scope = InstrumentationScope(name=semconv.SCOPE_NAME, version=_VERSION)
    options = SenderOptions(heartbeat_interval_s=settings.HEARTBEAT_INTERVAL.get())
    sender = Sender(transport, resource, scope, Spool(run_dir / "spool"), options=options)
    run = Run(run_id, name=name, experiment=experiment, config=config_map, sender=sender)
    sender.heartbeat = run._heartbeat_record
    _exit.install()
    start_body = {
        "name": name,
        "experiment": experiment,
        "config": config_map,
        "tags": labels,
        "argv": list(sys.argv),
        "python": platform.python_version(),
        "resumed": False,
    }
    sender.put(EventRecord(run._tick(), semconv.EVENT_RUN_START, start_body, new_uid()))
    _active.set(run)
    return run


def _transport(endpoint: str | None, store_path: Path) -> Transport:
    if endpoint:
        from trainwire.transports.grpc import GrpcTransport

        return GrpcTransport(endpoint)
    from trainwire.transports.embedded import EmbeddedTransport

    return EmbeddedTransport(store_path)


def _make_run_dir(run_id: str, endpoint: str | None, store_path: Path) -> Path:
    """Create the run's directory and record where its data goes, for `trainwire sync`."""
    run_dir = Path(settings.RUNS_DIR.get()) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "run_id": run_id,
        "endpoint": endpoint,
        "db_path": None if endpoint else str(store_path.resolve()),
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    (run_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return run_dir


def _resource(run_id: str, experiment: str) -> Resource:
    rank, world_size = 0, 1
    attributes = {
        semconv.ML_RUN_ID: run_id,
        semconv.ML_EXPERIMENT_NAME: experiment,
        semconv.SERVICE_NAME: experiment,
        semconv.SERVICE_INSTANCE_ID: semconv.service_instance_id(run_id, rank),
        semconv.ML_RUN_RANK: rank,
        semconv.ML_RUN_WORLD_SIZE: world_size,
        semconv.HOST_NAME: socket.gethostname(),
        semconv.PROCESS_PID: os.getpid(),
    }
    return Resource(attributes=to_attributes(attributes))


def _config_mapping(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, Mapping) and hasattr(config, "__dict__"):
        config = vars(config)  # argparse.Namespace and similar
    if not isinstance(config, Mapping):
        raise InvalidValueError(f"config must be a dict, got {type(config).__name__}")
    return {str(k): v for k, v in config.items()}


def _labels(tags: Sequence[str] | str | None) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        return [tags]
    labels = list(tags)
    for label in labels:
        if not isinstance(label, str) or not label:
            raise InvalidValueError(f"tags must be non-empty strings, got {label!r}")
    return labels
