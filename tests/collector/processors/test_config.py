"""Processor configs: defaults, every validation rule by path, and all four in one collector config."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

import trainwire.collector.processors as processors_package
from trainwire.anyvalue import attributes_to_dict
from trainwire.collector.component import ComponentID, Kind, Signal
from trainwire.collector.components import default_factories
from trainwire.collector.config import load_config, parse_config
from trainwire.collector.processors.attributes import AttributesProcessor
from trainwire.collector.processors.batch import BatchProcessor
from trainwire.collector.processors.filter import FilterProcessor
from trainwire.collector.processors.memory_limiter import MemoryLimiterProcessor
from trainwire.errors import ConfigError, RetryableExportError

TESTDATA = Path(__file__).parent / "testdata"
PROCESSORS = ("memory_limiter", "filter", "attributes", "batch")


def config_with(processors: dict[str, Any]) -> dict[str, Any]:
    """A valid config whose metrics pipeline runs ``processors`` in the order given."""
    return {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
        "processors": processors,
        "exporters": {"sqlite": {"path": "run.db"}},
        "service": {
            "pipelines": {
                "metrics": {
                    "receivers": ["otlp"],
                    "processors": list(processors),
                    "exporters": ["sqlite"],
                }
            }
        },
    }


def problems(processors: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(config_with(processors), default_factories())
    return info.value.problems


BAD_REGEX = "missing ), unterminated subpattern at position 0"

INVALID = [
    # filter
    (
        {"filter": {"metrics": {"include": ["("]}}},
        f"processors::filter::metrics::include[0]: '(' is not a valid regular expression: {BAD_REGEX}",
    ),
    (
        {"filter": {"metrics": {"exclude": ["ok", "[a-"]}}},
        "processors::filter::metrics::exclude[1]: '[a-' is not a valid regular expression:"
        " unterminated character set at position 0",
    ),
    (
        {"filter": {"logs": {"exclude_event_names": ["("]}}},
        f"processors::filter::logs::exclude_event_names[0]: '(' is not a valid regular expression: {BAD_REGEX}",
    ),
    (
        {"filter": {"traces": {"exclude_span_names": ["("]}}},
        f"processors::filter::traces::exclude_span_names[0]: '(' is not a valid regular expression: {BAD_REGEX}",
    ),
    (
        {"filter": {"metrics": {"include": [3]}}},
        "processors::filter::metrics::include[0]: expected a string, got int 3",
    ),
    (
        {"filter": {"metrics": {"inclde": ["loss"]}}},
        "processors::filter::metrics::inclde: unknown key; did you mean 'include'? (valid keys: exclude, include)",
    ),
    # attributes
    (
        {"attributes": {"actions": [{"key": "env", "action": "insert"}]}},
        "processors::attributes::actions[0]::value: required by action 'insert'",
    ),
    (
        {"attributes": {"actions": [{"key": "env", "action": "upsrt", "value": 1}]}},
        "processors::attributes::actions[0]::action: 'upsrt' is not one of insert, update, upsert, delete, rename",
    ),
    (
        {"attributes": {"actions": [{"key": "env"}]}},
        "processors::attributes::actions[0]::action: required; must be one of insert, update, upsert, delete, rename",
    ),
    (
        {"attributes": {"actions": [{"action": "delete"}]}},
        "processors::attributes::actions[0]::key: required",
    ),
    (
        {"attributes": {"actions": [{"key": "env", "action": "delete", "value": "x"}]}},
        "processors::attributes::actions[0]::value: not used by action 'delete'; remove it",
    ),
    (
        {
            "attributes": {
                "actions": [{"key": "a", "action": "delete"}, {"key": "host", "action": "rename"}]
            }
        },
        "processors::attributes::actions[1]::new_key: required by action 'rename'",
    ),
    (
        {"attributes": {"actions": [{"key": "host", "action": "rename", "new_key": "host"}]}},
        "processors::attributes::actions[0]::new_key: 'host' is the key itself",
    ),
    (
        {
            "attributes": {
                "actions": [{"key": "env", "action": "update", "value": 1, "new_key": "x"}]
            }
        },
        "processors::attributes::actions[0]::new_key: only used by action 'rename', not 'update'",
    ),
    (
        {"attributes": {"rename_metrics": [{"pattern": "(", "replacement": "x"}]}},
        f"processors::attributes::rename_metrics[0]::pattern: '(' is not a valid regular expression: {BAD_REGEX}",
    ),
    (
        {"attributes": {"rename_metrics": [{"pattern": "(a)", "replacement": r"\2"}]}},
        "processors::attributes::rename_metrics[0]::replacement: '\\\\2' does not fit the pattern:"
        " invalid group reference 2 at position 1",
    ),
    (
        {"attributes": {"rename_metrics": [{"replacement": "x"}]}},
        "processors::attributes::rename_metrics[0]::pattern: required",
    ),
    # batch
    (
        {"batch": {"timeout_s": -1}},
        "processors::batch::timeout_s: must be between 0 and 60 seconds, got -1.0",
    ),
    (
        {"batch": {"send_batch_size": -5}},
        "processors::batch::send_batch_size: must be 0 or more, got -5",
    ),
    (
        {"batch": {"send_batch_size": 100, "send_batch_max_size": 10}},
        "processors::batch::send_batch_max_size: must be 0 (no cap) or at least send_batch_size (100), got 10",
    ),
    (
        {"batch": {"timeout": 1}},
        "processors::batch::timeout: unknown key; did you mean 'timeout_s'?"
        " (valid keys: merge_resources, send_batch_max_size, send_batch_size, timeout_s)",
    ),
    # memory_limiter
    (
        {"memory_limiter": {"limit_mib": 1000, "limit_percentage": 50}},
        "processors::memory_limiter::limit_mib: set either limit_mib or limit_percentage, not both"
        " (got 1000 MiB and 50%)",
    ),
    (
        {"memory_limiter": {"limit_mib": 1000, "spike_limit_mib": 1000}},
        "processors::memory_limiter::spike_limit_mib: must be less than limit_mib (1000), got 1000",
    ),
    (
        {"memory_limiter": {"limit_percentage": 150}},
        "processors::memory_limiter::limit_percentage: must be 0 (not set) to 100, got 150",
    ),
    (
        {"memory_limiter": {"spike_limit_percentage": 80}},
        "processors::memory_limiter::spike_limit_percentage: must be less than limit_percentage (80), got 80",
    ),
    (
        {"memory_limiter": {"limit_mib": 1000, "spike_limit_percentage": 10}},
        "processors::memory_limiter::spike_limit_percentage: only used with limit_percentage; use spike_limit_mib",
    ),
    (
        {"memory_limiter": {"limit_percentage": 50, "spike_limit_mib": 10}},
        "processors::memory_limiter::spike_limit_mib: only used with limit_mib; use spike_limit_percentage",
    ),
    (
        {"memory_limiter": {"check_interval_s": 0}},
        "processors::memory_limiter::check_interval_s: must be more than 0 and at most 3600, got 0.0",
    ),
    (
        {"memory_limiter": {"limit_mib": -1}},
        "processors::memory_limiter::limit_mib: must be 0 (not set) or more, got -1",
    ),
]


@pytest.mark.parametrize(
    ("processors", "expected"),
    INVALID,
    ids=lambda v: "" if isinstance(v, dict) else v.split(": ")[0][12:],
)
def test_invalid_processor_config_is_named_by_path(
    processors: dict[str, Any], expected: str
) -> None:
    """Each invalid setting yields exactly one problem line naming its path and what is wrong."""
    assert problems(processors) == [expected]


VALID = [
    {"memory_limiter": None},
    {"memory_limiter": {"limit_mib": 4000, "spike_limit_mib": 800}},
    {"memory_limiter": {"limit_percentage": 75, "spike_limit_percentage": 15}},
    {"filter": {"metrics": {"include": ["train/.*"], "exclude": ["train/debug.*"]}}},
    {"attributes": {"actions": [{"key": "k", "action": "upsert", "value": [1, 2]}]}},
    {"attributes": {"rename_metrics": [{"pattern": "(?P<x>a)", "replacement": r"\g<x>b"}]}},
    {"batch": {"timeout_s": 0, "send_batch_size": 0}},
    {"batch/small": {"send_batch_size": 10, "send_batch_max_size": 10}},
]


@pytest.mark.parametrize("processors", VALID, ids=lambda v: next(iter(v)))
def test_valid_processor_config_parses(processors: dict[str, Any]) -> None:
    """Defaults and well-formed settings parse without a problem."""
    config = parse_config(config_with(processors), default_factories())
    assert config.pipelines["metrics"].processors == tuple(ComponentID.parse(p) for p in processors)


def test_every_processor_supports_every_signal() -> None:
    """The four processors are registered and take metrics, logs and traces."""
    factories = default_factories()[Kind.PROCESSOR]
    for name in PROCESSORS:
        assert factories[name].signals == frozenset(Signal)


def test_typo_file_names_the_key_and_suggests_the_fix() -> None:
    """A misspelt processor key is reported with its path and the key meant."""
    with pytest.raises(ConfigError) as info:
        load_config(TESTDATA / "typo.yaml", default_factories())
    assert info.value.problems == [
        "processors::filter::metrics::exlude: unknown key; did you mean 'exclude'? (valid keys: exclude, include)"
    ]


def test_invalid_file_reports_every_processor_problem_at_once() -> None:
    """A config with a problem in each processor reports all four together."""
    with pytest.raises(ConfigError) as info:
        load_config(TESTDATA / "invalid.yaml", default_factories())
    assert [line.split(":")[2] for line in info.value.problems] == [
        "memory_limiter",
        "filter",
        "attributes",
        "batch",
    ]


def test_all_four_processors_in_one_pipeline(
    sink: Any, host: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample config with every processor loads, and the chain built from it carries data through in order."""
    monkeypatch.setenv("CLUSTER", "gpu-a")
    config = load_config(TESTDATA / "all.yaml", default_factories())
    pipeline = config.pipelines["metrics"]
    assert pipeline.processors == tuple(ComponentID(p) for p in PROCESSORS)
    settings = config.components[Kind.PROCESSOR]
    assert settings[ComponentID("attributes")].actions[0].value == "gpu-a"
    assert settings[ComponentID("memory_limiter")].limit_mib == 2048
    consumer: Any = sink
    chain = []
    for cid in reversed(pipeline.processors):  # as the pipeline graph wires them
        factory = config.factories[Kind.PROCESSOR][cid.type]
        consumer = factory.create(settings[cid], id=cid, next_consumer=consumer)
        chain.insert(0, consumer)
    assert [type(p) for p in chain] == [
        MemoryLimiterProcessor,
        FilterProcessor,
        AttributesProcessor,
        BatchProcessor,
    ]
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    for name in ("train_loss", "debug/grad", "ml.step"):
        point = scope.metrics.add(name=name).gauge.data_points.add(time_unix_nano=1, as_double=1.0)
        point.attributes.add(key="hostname").value.string_value = "node-1"

    async def scenario() -> None:
        for processor in reversed(chain):
            await processor.start(host)
        await asyncio.gather(consumer.consume_metrics(request), consumer.consume_metrics(request))
        for processor in chain:
            await processor.shutdown()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 30))
    except RetryableExportError:  # pragma: no cover - a test process already near 2 GiB
        pytest.skip("this test process is above the memory limiter's soft limit")
    (merged,) = sink.metrics  # batched into one request with one resource
    (resource,) = merged.resource_metrics
    metrics = [m for sm in resource.scope_metrics for m in sm.metrics]
    assert [m.name for m in metrics] == ["train/loss", "ml.step"] * 2
    assert attributes_to_dict(metrics[0].gauge.data_points[0].attributes) == {
        "host.name": "node-1",
        "cluster": "gpu-a",
    }
    dropped = host.telemetry.counter("otelcol_processor_dropped_metric_points", "", ("processor",))
    assert dropped.value(processor="filter") == 2


def test_processors_package_declares_its_public_names() -> None:
    """The processors package and each processor's package declare __all__ with real names."""
    import importlib

    for name in ("", *(f".{p}" for p in PROCESSORS)):
        module = importlib.import_module(f"trainwire.collector.processors{name}")
        assert isinstance(module.__all__, list)
        assert all(hasattr(module, public) for public in module.__all__)
    assert processors_package.__all__ == []
