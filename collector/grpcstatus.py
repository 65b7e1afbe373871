"""gRPC answers shared by the collector's services (OTLP and ArtifactService)."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2

__all__ = ["abort_retry"]


async def abort_retry(
    context: grpc.aio.ServicerContext[Any, Any], message: str, delay_s: float
) -> None:
    """Abort with UNAVAILABLE and a RetryInfo detail: OTLP's backpressure signal.

    Clients (the OTel SDKs, trainwire's) retry after ``retry_delay``.
    """
    retry = error_details_pb2.RetryInfo(
        retry_delay=Duration(seconds=int(delay_s), nanos=int(delay_s % 1 * 1e9))
    )
    status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message)
    status.details.add().Pack(retry)
    await context.abort(
        grpc.StatusCode.UNAVAILABLE,
        message,
        trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
    )
