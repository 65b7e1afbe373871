"""init() tells a trainwire collector from a plain OpenTelemetry one."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)

import trainwire
from trainwire.testing import CollectorProcess, wait_for
from trainwire.transports.grpc import GrpcTransport


@pytest.fixture
def plain_otel_collector() -> Iterator[str]:
    """A gRPC server that speaks OTLP metrics and logs only, like an OpenTelemetry Collector."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    ok = ExportMetricsServiceResponse().SerializeToString()
    handlers = {"Export": grpc.unary_unary_rpc_method_handler(lambda request, context: ok)}
    for service in (
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        "opentelemetry.proto.collector.logs.v1.LogsService",
    ):
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def test_probe_tells_the_kinds_apart(
    collector: CollectorProcess, plain_otel_collector: str
) -> None:
    """A trainwire collector, a plain OTel one and a closed port are told apart."""
    assert GrpcTransport(collector.endpoint).probe() == "trainwire"
    assert GrpcTransport(plain_otel_collector).probe() == "otel"
    assert GrpcTransport("127.0.0.1:1").probe(timeout_s=1) == "unreachable"


def test_init_warns_about_a_plain_otel_collector(
    plain_otel_collector: str, caplog: pytest.LogCaptureFixture
) -> None:
    """init() pointed at a plain OpenTelemetry collector warns that it is not a trainwire one."""
    with caplog.at_level(logging.WARNING, logger="trainwire"):
        run = trainwire.init(endpoint=plain_otel_collector)
        assert wait_for(lambda: "plain OpenTelemetry collector" in caplog.text, 10)
        run.log({"x": 1.0})
        run.finish(timeout_s=5)
