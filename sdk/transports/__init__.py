"""Where the SDK's requests go: a collector over gRPC, or the embedded pipeline."""

from __future__ import annotations

from trainwire.transports.base import Transport

__all__ = ["Transport"]
