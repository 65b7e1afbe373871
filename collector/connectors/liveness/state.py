"""What the liveness connector knows of one run rank, and how that is stored."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import from_any_value

__all__ = ["RankKey", "RankState", "rank_key"]

RankKey = tuple[str, int]
"""``(ml.run.id, ml.run.rank)``."""


@dataclass
class RankState:
    """One run rank: its Resource, when data last arrived, and its reported progress."""

    run_id: str
    rank: int
    resource: bytes
    """The serialized Resource the run sent, so what we emit is attributed to the run."""
    last_seen_ns: int
    """Wall clock (collector's) when any data of the rank last arrived."""
    last_log_time: int | None = None
    """The latest ``last_log_time`` a heartbeat reported (the SDK's clock)."""
    log_moved_ns: int = 0
    """Wall clock (collector's) when ``last_log_time`` last moved."""
    stalled: bool = False
    """A "run stalled" alert went out for the current ``last_log_time``."""

    @property
    def key(self) -> RankKey:
        """``(run id, rank)``."""
        return (self.run_id, self.rank)

    @property
    def storage_key(self) -> str:
        """The key of this rank in the connector's storage namespace."""
        return f"{self.run_id}/{self.rank}"

    def encode(self) -> bytes:
        """The stored form (JSON)."""
        fields = {
            "run_id": self.run_id,
            "rank": self.rank,
            "resource": base64.b64encode(self.resource).decode(),
            "last_seen_ns": self.last_seen_ns,
            "last_log_time": self.last_log_time,
            "log_moved_ns": self.log_moved_ns,
            "stalled": self.stalled,
        }
        return json.dumps(fields, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> RankState:
        """Read the stored form; raise ValueError if it is not one."""
        try:
            fields: dict[str, Any] = json.loads(data)
            return cls(
                run_id=str(fields["run_id"]),
                rank=int(fields["rank"]),
                resource=base64.b64decode(fields["resource"]),
                last_seen_ns=int(fields["last_seen_ns"]),
                last_log_time=_optional_int(fields.get("last_log_time")),
                log_moved_ns=int(fields.get("log_moved_ns") or 0),
                stalled=bool(fields.get("stalled")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a liveness record: {exc}") from None


def rank_key(resource: Resource) -> RankKey | None:
    """``(ml.run.id, ml.run.rank)`` of a Resource, or None when it is not a run's."""
    run_id: str | None = None
    rank = 0
    for kv in resource.attributes:
        if kv.key == semconv.ML_RUN_ID:
            value = from_any_value(kv.value)
            run_id = None if value in (None, "") else str(value)
        elif kv.key == semconv.ML_RUN_RANK:
            value = kv.value
            rank = value.int_value if value.HasField("int_value") else _int(value.string_value)
    return None if run_id is None else (run_id, rank)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
