"""The ``ml.artifact`` event the store emits once a blob with metadata is committed."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import set_any_value, to_attributes
from trainwire.collector.artifacts.errors import InvalidBlobRequestError

__all__ = ["ArtifactInfo", "artifact_event", "artifact_uid"]

SCOPE_NAME = "trainwire.collector.artifacts"
_MAX_TEXT = 1024
_DEFAULT_MIME_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class ArtifactInfo:
    """What a client says about a blob: the proto's ArtifactMetadata, checked.

    The name is metadata only (shown to users, stored in the run store); it never
    becomes a path, so ``../../x`` is a legal, harmless name.
    """

    run_id: str
    name: str
    kind: str = "file"
    mime_type: str = _DEFAULT_MIME_TYPE
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        run_id: str,
        name: str,
        kind: str = "",
        mime_type: str = "",
        attributes: Mapping[str, str] | None = None,
    ) -> ArtifactInfo:
        """Check and fill in defaults; raise InvalidBlobRequestError naming the bad field."""
        for label, value in (("run_id", run_id), ("name", name)):
            if not value or not value.strip():
                raise InvalidBlobRequestError(f"artifact metadata: {label} is required")
        for label, value in (("run_id", run_id), ("name", name), ("mime_type", mime_type)):
            if len(value) > _MAX_TEXT or "\x00" in value:
                raise InvalidBlobRequestError(
                    f"artifact metadata: {label} must be at most {_MAX_TEXT} characters, no NUL"
                )
        kind = kind or "file"
        if kind not in semconv.ARTIFACT_KINDS:
            kinds = ", ".join(semconv.ARTIFACT_KINDS)
            raise InvalidBlobRequestError(f"artifact metadata: kind {kind!r} is not one of {kinds}")
        return cls(run_id, name, kind, mime_type or _DEFAULT_MIME_TYPE, dict(attributes or {}))


def artifact_uid(run_id: str, name: str, sha256: str) -> str:
    """The event's ``log.record.uid``: the same artifact of a run is stored once."""
    text = "\x00".join((run_id, name, sha256))
    return "artifact:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def artifact_event(
    info: ArtifactInfo, *, sha256: str, size: int, time_unix_nano: int | None = None
) -> ExportLogsServiceRequest:
    """One logs request holding the ``ml.artifact`` event of a committed blob."""
    now = time_unix_nano or time.time_ns()
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.CopyFrom(
        Resource(attributes=to_attributes({semconv.ML_RUN_ID: info.run_id}))
    )
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = SCOPE_NAME
    record = scope_logs.log_records.add(
        time_unix_nano=now, observed_time_unix_nano=now, event_name=semconv.EVENT_ARTIFACT
    )
    body = {
        "name": info.name,
        "kind": info.kind,
        "sha256": sha256,
        "size": size,
        "mime_type": info.mime_type,
    }
    set_any_value(record.body, body)
    attributes: dict[str, object] = dict(info.attributes)
    attributes[semconv.EVENT_NAME_ATTRIBUTE] = semconv.EVENT_ARTIFACT
    attributes[semconv.LOG_RECORD_UID] = artifact_uid(info.run_id, info.name, sha256)
    record.attributes.extend(to_attributes(attributes))
    return request
