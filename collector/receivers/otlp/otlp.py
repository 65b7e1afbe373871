"""The OTLP receiver: OpenTelemetry's protocol over gRPC and HTTP.

Both transports decode requests themselves, so a malformed payload is the
sender's fault (``INVALID_ARGUMENT`` / HTTP 400), never ``INTERNAL``, and both hand
the decoded request to :meth:`OtlpReceiver.export`. A request is acknowledged only
after the pipeline has taken it. A pipeline that refuses it for good (a
:class:`PermanentExportError`) gives an OTLP partial success, which clients must
not retry; one that cannot take it now (a full durable queue) gives
``UNAVAILABLE`` with ``RetryInfo`` / HTTP 503 with ``Retry-After``.

OTLP sets no limit on attributes per point, so the receiver sets none either: a
point with 10,000 attributes is accepted like any other. The request size limit of
each protocol is what bounds the work one request can cause.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from trainwire.collector.artifacts import ArtifactService
from trainwire.collector.component import ComponentID, Host, Signal
from trainwire.collector.exporterhelper.requests import count_items
from trainwire.collector.receivers.otlp.config import OtlpReceiverConfig
from trainwire.collector.receivers.otlp.signals import SIGNALS, SignalSpec
from trainwire.collector.telemetry import Counter
from trainwire.errors import PermanentExportError, RetryableExportError

__all__ = ["OtlpReceiver"]

logger = logging.getLogger(__name__)

_DEFAULT_RETRY_S = 1.0
_FAILURE_RETRY_S = 5.0
_LABELS = ("receiver", "transport")


class OtlpReceiver:
    """Serves OTLP over the configured protocols and feeds the pipelines of each signal."""

    def __init__(
        self,
        config: OtlpReceiverConfig,
        *,
        id: ComponentID,
        next_consumers: Mapping[Signal, Any],
    ) -> None:
        self.config = config
        self.id = id
        self._next = dict(next_consumers)
        self.specs = [SIGNALS[s] for s in Signal if s in self._next]
        """The services this receiver offers: those of the signals it has pipelines for."""
        self._servers: list[Any] = []
        self._accepted: dict[Signal, Counter] = {}
        self._refused: dict[Signal, Counter] = {}
        self.grpc_port: int | None = None
        self.http_port: int | None = None
        self.artifacts: ArtifactService | None = None
        if config.artifacts.enabled:
            logs = self._next.get(Signal.LOGS)
            self.artifacts = ArtifactService(
                config.artifacts, consume_logs=logs.consume_logs if logs is not None else None
            )

    @property
    def token(self) -> str | None:
        """The bearer token requests must carry, or None without ``auth``."""
        return self.config.auth.bearer_token if self.config.auth else None

    async def start(self, host: Host) -> None:
        """Start each configured server; log the address it listens on."""
        self._register_telemetry(host)
        protocols = self.config.protocols
        try:
            if protocols.grpc is not None:
                from trainwire.collector.receivers.otlp.grpc import GrpcServer

                grpc_server = GrpcServer(protocols.grpc, receiver=self)
                self._servers.append(grpc_server)
                self.grpc_port = await grpc_server.start()
            if protocols.http is not None:
                from trainwire.collector.receivers.otlp.http import HttpServer

                http_server = HttpServer(protocols.http, receiver=self)
                self._servers.append(http_server)
                self.http_port = await http_server.start()
        except BaseException:
            await self.shutdown()  # the graph only shuts down what started
            raise
        if self.token and not all(
            cfg.tls for cfg in (protocols.grpc, protocols.http) if cfg is not None
        ):
            logger.warning(
                "%s receiver: bearer-token auth without tls sends the token in clear text", self.id
            )

    def _register_telemetry(self, host: Host) -> None:
        transports = [
            name for name in ("grpc", "http") if getattr(self.config.protocols, name) is not None
        ]
        for spec in self.specs:
            word = spec.item_word
            self._accepted[spec.signal] = host.telemetry.counter(
                f"otelcol_receiver_accepted_{word}",
                f"Items ({word}) the receiver handed to the pipeline.",
                _LABELS,
            )
            self._refused[spec.signal] = host.telemetry.counter(
                f"otelcol_receiver_refused_{word}",
                f"Items ({word}) the pipeline refused, for now or for good.",
                _LABELS,
            )
            for transport in transports:  # series exist from the start, at 0
                self._accepted[spec.signal].add(0, receiver=str(self.id), transport=transport)
                self._refused[spec.signal].add(0, receiver=str(self.id), transport=transport)

    async def shutdown(self) -> None:
        """Stop taking new requests and let those in flight finish; safe twice."""
        servers, self._servers = self._servers, []
        for server in reversed(servers):
            await server.stop()

    async def export(self, spec: SignalSpec, request: Any, transport: str) -> Any:
        """Hand ``request`` to the pipeline; return the Export*ServiceResponse.

        Raises:
            RetryableExportError: the pipeline cannot take it now; ``retry_after_s`` is set.
        """
        count = count_items(spec.signal, request)
        labels = {"receiver": str(self.id), "transport": transport}
        response = spec.response_type()
        try:
            await getattr(self._next[spec.signal], spec.consume)(request)
        except PermanentExportError as exc:
            # OTLP partial success: the client must not retry what we cannot take.
            self._count(self._refused, spec.signal, count, labels)
            setattr(response.partial_success, spec.rejected_field, count)
            response.partial_success.error_message = str(exc)
            return response
        except RetryableExportError as exc:
            self._count(self._refused, spec.signal, count, labels)
            raise RetryableExportError(
                str(exc), retry_after_s=exc.retry_after_s or _DEFAULT_RETRY_S
            ) from exc
        except Exception as exc:
            self._count(self._refused, spec.signal, count, labels)
            logger.exception("%s: pipeline failed on a %s request", self.id, spec.signal.value)
            raise RetryableExportError(
                "the collector failed to store this request", retry_after_s=_FAILURE_RETRY_S
            ) from exc
        self._count(self._accepted, spec.signal, count, labels)
        return response

    @staticmethod
    def _count(
        counters: dict[Signal, Counter], signal: Signal, count: int, labels: dict[str, str]
    ) -> None:
        counter = counters.get(signal)
        if counter is not None:  # absent only when used without start()
            counter.add(count, **labels)
