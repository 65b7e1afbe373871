"""Tests of the collector config loader: strict keys, typed values, env expansion, pipelines."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.components import default_factories, make_factory_map
from trainwire.collector.config import (
    CollectorConfig,
    PipelineConfig,
    expand_env,
    load_config,
    parse_config,
)
from trainwire.collector.confmap import EnvText, decode
from trainwire.collector.receivers.otlp.config import (
    GrpcServerConfig,
    HttpServerConfig,
    Protocols,
)
from trainwire.errors import ConfigError

TESTDATA = Path(__file__).parent / "testdata"

RECEIVERS = '{otlp: {protocols: {grpc: {endpoint: "127.0.0.1:0"}}}}'
EXPORTERS = "{sqlite: {path: run.db}}"
PIPELINES = "{metrics: {receivers: [otlp], exporters: [sqlite]}}"
GRPC = "receivers::otlp::protocols::grpc"
METRICS = "service::pipelines::metrics"
SQLITE_KEYS = (
    "api, lease_s, path, retry_on_failure, sealing_cpu_share, sending_queue, writer_process"
)
TOP_LEVEL = "receivers, processors, exporters, connectors, extensions, service"


def _doc(
    *,
    receivers: str = RECEIVERS,
    exporters: str = EXPORTERS,
    pipelines: str = PIPELINES,
    service: str = "",
    extra: str = "",
) -> str:
    """A small config in flow style; each part can be swapped or extended for a test case."""
    return (
        f"receivers: {receivers}\n"
        f"exporters: {exporters}\n"
        f"service: {{pipelines: {pipelines}{service}}}\n"
        f"{extra}"
    )


def _grpc(settings: str) -> str:
    """An otlp receivers section whose grpc server has ``settings``."""
    return f"{{otlp: {{protocols: {{grpc: {settings}}}}}}}"


def _doc_grpc(settings: str) -> str:
    """A config whose otlp receiver's grpc server has ``settings``."""
    return _doc(receivers=_grpc(settings))


def _parse(text: str, **kwargs: Any) -> CollectorConfig:
    return parse_config(yaml.safe_load(text), default_factories(), **kwargs)


def _problems(text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        _parse(text, **kwargs)
    return info.value.problems


def _sqlite_path(config: CollectorConfig, name: str = "") -> Any:
    return config.components[Kind.EXPORTER][ComponentID("sqlite", name)].path


def _grpc_config(config: CollectorConfig) -> GrpcServerConfig:
    receiver = config.components[Kind.RECEIVER][ComponentID("otlp")]
    grpc: GrpcServerConfig = receiver.protocols.grpc
    return grpc


@dataclass(frozen=True)
class _NopConfig:
    """Settings of the test-only components below (none)."""


def _factory(type_: str, kind: Kind, signals: frozenset[Signal] | None = None) -> Factory:
    extra = {} if signals is None else {"signals": signals}
    return Factory(type=type_, kind=kind, default_config=_NopConfig, create=_NopConfig, **extra)


# --- the valid file -----------------------------------------------------------------------


def test_valid_file_loads_components_and_pipelines() -> None:
    """valid.yaml loads with its receiver, exporter, both pipelines and the log level."""
    config = load_config(TESTDATA / "valid.yaml", default_factories())

    assert list(config.components[Kind.RECEIVER]) == [ComponentID("otlp")]
    assert _grpc_config(config) == GrpcServerConfig(endpoint="127.0.0.1:0", max_recv_msg_size_mib=4)
    assert list(config.components[Kind.EXPORTER]) == [ComponentID("sqlite")]
    assert _sqlite_path(config) == "runs/trainwire.db"
    assert config.components[Kind.PROCESSOR] == {}
    assert config.components[Kind.EXTENSION] == {}
    assert sorted(config.pipelines) == ["logs", "metrics"]
    for name, signal in (("metrics", Signal.METRICS), ("logs", Signal.LOGS)):
        pipeline = config.pipelines[name]
        assert pipeline.signal is signal
        assert pipeline.receivers == (ComponentID("otlp"),)
        assert pipeline.processors == ()
        assert pipeline.exporters == (ComponentID("sqlite"),)
    assert config.extensions == ()
    assert config.log_level == "debug"


def test_valid_config_is_frozen() -> None:
    """The loaded component configs are frozen dataclasses, so nothing can change them later."""
    config = load_config(TESTDATA / "valid.yaml", default_factories())

    with pytest.raises(FrozenInstanceError):
        _grpc_config(config).endpoint = "0.0.0.0:4317"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "get", "expected"),
    [
        pytest.param(
            _doc(receivers="{otlp: {protocols: {grpc: }}}"),
            _grpc_config,
            GrpcServerConfig(endpoint="localhost:4317", max_recv_msg_size_mib=4),
            id="empty-grpc-takes-defaults",
        ),
        pytest.param(
            _doc(receivers="{otlp: {protocols: {http: }}}"),
            lambda c: c.components[Kind.RECEIVER][ComponentID("otlp")].protocols,
            Protocols(grpc=None, http=HttpServerConfig()),
            id="listed-protocol-enabled-absent-one-off",
        ),
        pytest.param(
            _doc(receivers="{otlp: {protocols: {grpc: , http: {endpoint: '127.0.0.1:0'}}}}"),
            lambda c: c.components[Kind.RECEIVER][ComponentID("otlp")].protocols,
            Protocols(grpc=GrpcServerConfig(), http=HttpServerConfig(endpoint="127.0.0.1:0")),
            id="both-protocols",
        ),
        pytest.param(
            _doc(exporters="{sqlite: }"),
            _sqlite_path,
            "trainwire.db",
            id="empty-exporter-takes-defaults",
        ),
        pytest.param(
            _doc_grpc("{max_recv_msg_size_mib: 64}"),
            _grpc_config,
            GrpcServerConfig(endpoint="localhost:4317", max_recv_msg_size_mib=64),
            id="user-key-laid-over-defaults",
        ),
        pytest.param(
            _doc(
                exporters="{sqlite: {path: a.db}, sqlite/b: {path: b.db}}",
                pipelines="{logs/audit: {receivers: [otlp], exporters: [sqlite/b, sqlite]}}",
            ),
            lambda c: (c.pipelines["logs/audit"], _sqlite_path(c, "b")),
            (
                PipelineConfig(
                    Signal.LOGS,
                    receivers=(ComponentID("otlp"),),
                    exporters=(ComponentID("sqlite", "b"), ComponentID("sqlite")),
                ),
                "b.db",
            ),
            id="named-ids-and-named-pipeline",
        ),
        pytest.param(
            _doc(service=", telemetry: {logs: {level: WARN}}"),
            lambda c: c.log_level,
            "warn",
            id="log-level-case-insensitive",
        ),
        pytest.param(
            _doc(),
            lambda c: c.log_level,
            "info",
            id="log-level-default",
        ),
    ],
)
def test_valid_variants_load(text: str, get: Any, expected: Any) -> None:
    """Each valid variant loads, with defaults filled in and ids and pipelines as written."""
    assert get(_parse(text)) == expected


@pytest.mark.parametrize(
    "endpoint",
    ["127.0.0.1:0", "localhost:4317", "0.0.0.0:65535", "[::1]:4317", "collector.internal:1"],
)
def test_good_endpoints_are_accepted(endpoint: str) -> None:
    """A host:port endpoint with a port in 0-65535 is accepted as written."""
    config = _parse(_doc_grpc(f'{{endpoint: "{endpoint}"}}'))

    assert _grpc_config(config).endpoint == endpoint


# --- unknown and misspelt keys ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _doc(receivers="{otlp: {protocls: {grpc: }}}"),
            "receivers::otlp::protocls: unknown key; did you mean 'protocols'?"
            " (valid keys: artifacts, auth, protocols)",
            id="protocls",
        ),
        pytest.param(
            _doc(receivers="{otlp: {protocols: {grcp: }}}"),
            "receivers::otlp::protocols::grcp: unknown key; did you mean 'grpc'?"
            " (valid keys: grpc, http)",
            id="grcp",
        ),
        pytest.param(
            _doc_grpc('{endpont: "127.0.0.1:0"}'),
            f"{GRPC}::endpont: unknown key; did you mean 'endpoint'?"
            " (valid keys: endpoint, max_recv_msg_size_mib, tls)",
            id="endpont",
        ),
        pytest.param(
            _doc_grpc("{max_recv_msg_size_mb: 8}"),
            f"{GRPC}::max_recv_msg_size_mb: unknown key; did you mean 'max_recv_msg_size_mib'?"
            " (valid keys: endpoint, max_recv_msg_size_mib, tls)",
            id="max_recv_msg_size_mb",
        ),
        pytest.param(
            _doc(exporters="{sqlite: {pth: run.db}}"),
            "exporters::sqlite::pth: unknown key; did you mean 'path'?"
            f" (valid keys: {SQLITE_KEYS})",
            id="pth",
        ),
        pytest.param(
            _doc(
                exporters="{sqlite/runs: {paht: run.db}}",
                pipelines="{metrics: {receivers: [otlp], exporters: [sqlite/runs]}}",
            ),
            "exporters::sqlite/runs::paht: unknown key; did you mean 'path'?"
            f" (valid keys: {SQLITE_KEYS})",
            id="named-component",
        ),
        pytest.param(
            _doc(exporters="{sqlite: {colour: red}}"),
            f"exporters::sqlite::colour: unknown key (valid keys: {SQLITE_KEYS})",
            id="no-close-match-no-suggestion",
        ),
    ],
)
def test_misspelt_component_key_is_named_with_suggestion(text: str, expected: str) -> None:
    """A misspelt component key is the only problem, named by full path with the nearest key."""
    assert _problems(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _doc(extra="pipelines: {}\n"),
            f"pipelines: unknown top-level key (valid: {TOP_LEVEL})",
            id="top-level",
        ),
        pytest.param(
            _doc(extra="recievers: {}\n"),
            f"recievers: unknown top-level key (valid: {TOP_LEVEL})",
            id="top-level-misspelt",
        ),
        pytest.param(
            _doc(service=", pipeline: {}"),
            "service::pipeline: unknown key (valid: extensions, pipelines, telemetry)",
            id="service",
        ),
        pytest.param(
            _doc(pipelines="{metrics: {receivers: [otlp], exporters: [sqlite], exporter: []}}"),
            f"{METRICS}::exporter: unknown key (valid: exporters, processors, receivers)",
            id="pipeline",
        ),
    ],
)
def test_unknown_structural_key_is_named(text: str, expected: str) -> None:
    """An unknown key outside a component is reported by path with the keys allowed there."""
    assert _problems(text) == [expected]


@pytest.mark.parametrize(
    ("telemetry", "expected"),
    [
        pytest.param(
            "{logs: {levle: debug}}",
            "service::telemetry::logs::levle: unknown key",
            id="logs-levle",
        ),
        pytest.param(
            "{metricz: {level: basic}}",
            "service::telemetry::metricz: unknown key",
            id="metricz",
        ),
    ],
)
def test_unknown_telemetry_key_is_named(telemetry: str, expected: str) -> None:
    """A misspelt key under service::telemetry is rejected by path, like every other key."""
    problems = _problems(_doc(service=f", telemetry: {telemetry}"))

    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)


def test_bad_log_level_is_named() -> None:
    """A log level other than debug/info/warn/error is reported with the allowed values."""
    text = _doc(service=", telemetry: {logs: {level: loud}}")

    assert _problems(text) == [
        "service::telemetry::logs::level: 'loud' is not one of debug, info, warn, warning, error"
    ]


# --- unknown component types --------------------------------------------------------------


def _known(kind: Kind) -> str:
    """The registered types of one kind, as the loader lists them."""
    return ", ".join(sorted(default_factories()[kind]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _doc(receivers=RECEIVERS[:-1] + ", jaeger: {}}"),
            "receivers::jaeger: unknown receiver type 'jaeger' (known types: hostmetrics, nvml, otlp)",
            id="receiver",
        ),
        pytest.param(
            _doc(exporters="{sqlite: {path: run.db}, kafka/alerts: {brokers: x}}"),
            f"exporters::kafka/alerts: unknown exporter type 'kafka' (known types: {_known(Kind.EXPORTER)})",
            id="named-exporter",
        ),
        pytest.param(
            _doc(extra="processors: {transform: {}}\n"),
            f"processors::transform: unknown processor type 'transform' (known types: {_known(Kind.PROCESSOR)})",
            id="processor",
        ),
        pytest.param(
            _doc(extra="extensions: {zpages: {}}\n"),
            f"extensions::zpages: unknown extension type 'zpages' (known types: {_known(Kind.EXTENSION)})",
            id="extension",
        ),
        pytest.param(
            _doc(
                exporters="{sqlite: {path: run.db}, kafka: {}}",
                pipelines="{metrics: {receivers: [otlp], exporters: [sqlite, kafka]}}",
            ),
            f"exporters::kafka: unknown exporter type 'kafka' (known types: {_known(Kind.EXPORTER)})",
            id="used-in-pipeline-reported-once",
        ),
        pytest.param(
            _doc(exporters="{sqlite: {path: run.db}, 'sqlite/': {}}"),
            "exporters::sqlite/: 'sqlite/' is not a component id of the form type[/name]",
            id="malformed-id",
        ),
    ],
)
def test_unknown_component_type_lists_known_types(text: str, expected: str) -> None:
    """An unknown component type is reported once, by path, with the types that exist."""
    assert _problems(text) == [expected]


# --- pipelines ----------------------------------------------------------------------------


def _not_configured(path: str, kind: str, cid: str, configured: str) -> str:
    return (
        f"{path}: references {kind} '{cid}' which is not configured;"
        f" add it under {kind}s: or fix the name (configured: {configured})"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _doc(pipelines="{metrics: {receivers: [otlp], exporters: [sqlite, sqlite/other]}}"),
            _not_configured(f"{METRICS}::exporters", "exporter", "sqlite/other", "sqlite"),
            id="exporter",
        ),
        pytest.param(
            _doc(pipelines="{logs: {receivers: [otlp, otlp/2], exporters: [sqlite]}}"),
            _not_configured("service::pipelines::logs::receivers", "receiver", "otlp/2", "otlp"),
            id="receiver",
        ),
        pytest.param(
            _doc(
                pipelines="{metrics: {receivers: [otlp], processors: [batch], exporters: [sqlite]}}"
            ),
            _not_configured(f"{METRICS}::processors", "processor", "batch", "none"),
            id="processor",
        ),
        pytest.param(
            _doc(service=", extensions: [health_check]"),
            _not_configured("service::extensions", "extension", "health_check", "none"),
            id="extension",
        ),
        pytest.param(
            _doc(pipelines="{metrics: {receivers: [otlp], exporters: [sqlite, sqlite]}}"),
            f"{METRICS}::exporters: 'sqlite' is listed twice",
            id="listed-twice",
        ),
    ],
)
def test_pipeline_reference_to_unconfigured_component_says_how_to_fix(
    text: str, expected: str
) -> None:
    """A pipeline naming an unconfigured or repeated id gets one line: path, id and the fix."""
    assert _problems(text) == [expected]


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        pytest.param(
            "{receivers: [otlp], exporters: [sqlite/other]}",
            _not_configured(f"{METRICS}::exporters", "exporter", "sqlite/other", "sqlite"),
            id="only-exporter",
        ),
        pytest.param(
            "{receivers: [otlp/other], exporters: [sqlite]}",
            _not_configured(f"{METRICS}::receivers", "receiver", "otlp/other", "otlp"),
            id="only-receiver",
        ),
    ],
)
def test_only_reference_unconfigured_is_one_problem(pipeline: str, expected: str) -> None:
    """A pipeline whose only id is unconfigured is told that, not also that it names none."""
    assert _problems(_doc(pipelines=f"{{metrics: {pipeline}}}")) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _doc(pipelines="{metrics: {receivers: [otlp]}}"),
            f"{METRICS}::exporters: required; name at least one exporter, e.g. [sqlite]",
            id="no-exporters-key",
        ),
        pytest.param(
            _doc(pipelines="{metrics: {receivers: [otlp], exporters: []}}"),
            f"{METRICS}::exporters: required; name at least one exporter, e.g. [sqlite]",
            id="empty-exporters",
        ),
        pytest.param(
            _doc(pipelines="{metrics: {exporters: [sqlite]}}"),
            f"{METRICS}::receivers: required; name at least one receiver, e.g. [otlp]",
            id="no-receivers-key",
        ),
        pytest.param(
            _doc(pipelines="{metrics: {receivers: [], exporters: [sqlite]}}"),
            f"{METRICS}::receivers: required; name at least one receiver, e.g. [otlp]",
            id="empty-receivers",
        ),
        pytest.param(
            _doc(pipelines="{}"),
            "service::pipelines: required; add e.g."
            " metrics: {receivers: [otlp], exporters: [sqlite]}",
            id="no-pipelines",
        ),
        pytest.param(
            f"receivers: {RECEIVERS}\nexporters: {EXPORTERS}\n",
            "service: required, with service::pipelines naming receivers and exporters",
            id="no-service",
        ),
        pytest.param(
            _doc(pipelines="{metrics: [otlp, sqlite]}"),
            f"{METRICS}: expected a mapping with receivers and exporters",
            id="pipeline-not-a-mapping",
        ),
    ],
)
def test_pipeline_without_required_parts_says_what_to_add(text: str, expected: str) -> None:
    """A pipeline or service missing its receivers or exporters is told what to add, by path."""
    assert _problems(text) == [expected]


@pytest.mark.parametrize(
    ("name", "word"),
    [("metricz", "metricz"), ("trace", "trace"), ("profiles/gpu", "profiles")],
)
def test_unknown_signal_lists_valid_signals(name: str, word: str) -> None:
    """A pipeline named for a signal trainwire does not carry is reported with the valid ones."""
    text = _doc(pipelines=f"{{metrics: {{receivers: [otlp], exporters: [sqlite]}}, {name}: {{}}}}")

    assert _problems(text) == [
        f"service::pipelines::{name}: unknown signal '{word}' (valid: metrics, logs, traces)"
    ]


def test_traces_pipeline_from_otlp_to_sqlite_loads() -> None:
    """A traces pipeline from the otlp receiver to the sqlite store is valid."""
    config = _parse(_doc(pipelines="{traces: {receivers: [otlp], exporters: [sqlite]}}"))

    assert config.pipelines["traces"] == PipelineConfig(
        Signal.TRACES, receivers=(ComponentID("otlp"),), exporters=(ComponentID("sqlite"),)
    )


def test_component_without_the_pipeline_signal_is_named() -> None:
    """An exporter that cannot take a pipeline's signal is named with the signal it lacks."""
    factories = make_factory_map(
        [
            _factory("rcv", Kind.RECEIVER),
            _factory("metricsonly", Kind.EXPORTER, frozenset({Signal.METRICS})),
        ]
    )
    raw = yaml.safe_load(
        "receivers: {rcv: }\nexporters: {metricsonly: }\n"
        "service: {pipelines: {logs: {receivers: [rcv], exporters: [metricsonly]}}}"
    )

    with pytest.raises(ConfigError) as info:
        parse_config(raw, factories)

    assert info.value.problems == [
        "service::pipelines::logs: exporter 'metricsonly' does not support logs"
    ]


@pytest.mark.parametrize(
    "pipelines",
    [
        pytest.param("{metrics: {exporters: [sqlite]}}", id="no-receivers-key"),
        pytest.param("{metrics: {receivers: [], exporters: [sqlite]}}", id="empty-receivers"),
    ],
)
def test_require_receivers_false_allows_pipelines_without_receivers(pipelines: str) -> None:
    """With require_receivers=False a pipeline may have no receivers (the embedded collector)."""
    text = f"exporters: {EXPORTERS}\nservice: {{pipelines: {pipelines}}}\n"

    config = _parse(text, require_receivers=False)

    assert config.pipelines["metrics"].receivers == ()
    assert config.pipelines["metrics"].exporters == (ComponentID("sqlite"),)
    assert config.components[Kind.RECEIVER] == {}


def test_require_receivers_false_still_requires_exporters() -> None:
    """With require_receivers=False a pipeline must still name an exporter."""
    text = f"exporters: {EXPORTERS}\nservice: {{pipelines: {{logs: {{}}}}}}\n"

    assert _problems(text, require_receivers=False) == [
        "service::pipelines::logs::exporters: required; name at least one exporter, e.g. [sqlite]"
    ]


# --- value types and endpoints ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _doc_grpc('{max_recv_msg_size_mib: "4"}'),
            f"{GRPC}::max_recv_msg_size_mib: expected an integer, got str '4'",
            id="string-for-int",
        ),
        pytest.param(
            _doc_grpc("{max_recv_msg_size_mib: true}"),
            f"{GRPC}::max_recv_msg_size_mib: expected an integer, got bool True",
            id="bool-for-int",
        ),
        pytest.param(
            _doc_grpc("{max_recv_msg_size_mib: 4.5}"),
            f"{GRPC}::max_recv_msg_size_mib: expected an integer, got float 4.5",
            id="float-for-int",
        ),
        pytest.param(
            _doc_grpc("{max_recv_msg_size_mib: }"),
            f"{GRPC}::max_recv_msg_size_mib: expected an integer, got nothing (null)",
            id="null-for-int",
        ),
        pytest.param(
            _doc_grpc("{endpoint: 4317}"),
            f"{GRPC}::endpoint: expected a string, got int 4317",
            id="int-for-string",
        ),
        pytest.param(
            _doc(receivers="{otlp: {protocols: [grpc]}}"),
            "receivers::otlp::protocols: expected a mapping of settings, got list ['grpc']",
            id="list-for-mapping",
        ),
        pytest.param(
            _doc(receivers="{otlp: [grpc]}"),
            "receivers::otlp: expected a mapping of settings, got list ['grpc']",
            id="list-for-component",
        ),
        pytest.param(
            _doc(exporters="{sqlite: {path: [a.db, b.db]}}"),
            "exporters::sqlite::path: expected a string, got list ['a.db', 'b.db']",
            id="list-for-string",
        ),
        pytest.param(
            _doc(exporters="{sqlite: run.db}"),
            "exporters::sqlite: expected a mapping of settings, got str 'run.db'",
            id="string-for-component",
        ),
        pytest.param(
            _doc(exporters="{sqlite: {path: ''}}"),
            "exporters::sqlite::path: required; give the SQLite file, e.g. ./trainwire.db",
            id="empty-required-string",
        ),
        pytest.param(
            _doc_grpc("{max_recv_msg_size_mib: 0}"),
            f"{GRPC}::max_recv_msg_size_mib: must be between 1 and 1024",
            id="int-out-of-range",
        ),
    ],
)
def test_wrong_value_type_names_path_and_expected_type(text: str, expected: str) -> None:
    """A value of the wrong type is the only problem, named by path with the type expected."""
    assert _problems(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            f"receivers: [otlp]\nexporters: {EXPORTERS}\nservice: {{pipelines: {PIPELINES}}}",
            "receivers: expected a mapping of component ids to settings",
            id="section-is-list",
        ),
        pytest.param(
            _doc(pipelines="{metrics: {receivers: otlp, exporters: [sqlite]}}"),
            f"{METRICS}::receivers: expected a list of ",
            id="pipeline-refs-not-a-list",
        ),
    ],
)
def test_wrong_section_type_is_named(text: str, expected: str) -> None:
    """A section or pipeline list of the wrong shape is reported by its path."""
    problems = _problems(text)

    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        pytest.param(
            "localhost", "'localhost' is not host:port, e.g. localhost:4317", id="no-port"
        ),
        pytest.param(
            "localhost:70000", "'localhost:70000': port 70000 is outside 0-65535", id="70000"
        ),
        pytest.param("localhost:-1", "'localhost:-1': port '-1' is not a number", id="negative"),
        pytest.param("localhost:grpc", "'localhost:grpc': port 'grpc' is not a number", id="name"),
        pytest.param("localhost:", "'localhost:': port '' is not a number", id="empty-port"),
    ],
)
def test_bad_endpoint_is_named(endpoint: str, message: str) -> None:
    """An endpoint without a usable host:port is reported at its path, saying what is wrong."""
    text = _doc_grpc(f'{{endpoint: "{endpoint}"}}')

    assert _problems(text) == [f"{GRPC}::endpoint: {message}"]


@pytest.mark.parametrize("port", ["4_317", "٤٣١٧"])
def test_port_must_be_plain_digits(port: str) -> None:
    """A port that Python's int() reads but gRPC cannot bind (4_317) is refused while validating."""
    text = _doc_grpc(f'{{endpoint: "127.0.0.1:{port}"}}')

    assert _problems(text) == [
        f"{GRPC}::endpoint: '127.0.0.1:{port}': port '{port}' is not a number"
    ]


# --- every problem at once ----------------------------------------------------------------


def test_invalid_file_reports_every_problem_at_once() -> None:
    """invalid.yaml yields one line per problem, all five of them, each with its path."""
    with pytest.raises(ConfigError) as info:
        load_config(TESTDATA / "invalid.yaml", default_factories())

    assert info.value.problems == [
        f"{GRPC}::max_recv_msg_size_mib: expected an integer, got str '4'",
        f"{GRPC}::endpoint: 'localhost' is not host:port, e.g. localhost:4317",
        "receivers::jaeger: unknown receiver type 'jaeger' (known types: hostmetrics, nvml, otlp)",
        _not_configured(f"{METRICS}::exporters", "exporter", "discord", "sqlite"),
        "service::pipelines::profiles: unknown signal 'profiles' (valid: metrics, logs, traces)",
    ]
    assert str(info.value) == "\n".join(info.value.problems)


def test_typo_file_reports_path_and_suggestion() -> None:
    """typo.yaml yields exactly one line: the misspelt key's path and the key it should be."""
    with pytest.raises(ConfigError) as info:
        load_config(TESTDATA / "typo.yaml", default_factories())

    assert info.value.problems == [
        f"{GRPC}::endpont: unknown key; did you mean 'endpoint'?"
        " (valid keys: endpoint, max_recv_msg_size_mib, tls)"
    ]


# --- environment variables ----------------------------------------------------------------


def test_env_file_substitutes_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """env.yaml takes its values from the environment, its defaults, and $$ as a literal $."""
    monkeypatch.setenv("TW_TEST_PORT", "4317")
    monkeypatch.setenv("TW_TEST_MAX_MIB", "16")
    monkeypatch.setenv("TW_TEST_DB", "/var/lib/trainwire/runs.db")

    config = load_config(TESTDATA / "env.yaml", default_factories())

    assert _grpc_config(config) == GrpcServerConfig(
        endpoint="127.0.0.1:4317", max_recv_msg_size_mib=16
    )
    assert _sqlite_path(config) == "/var/lib/trainwire/runs.db"
    assert _sqlite_path(config, "costs") == "costs-$5.db"


def test_env_file_with_unset_variables_names_each_path() -> None:
    """With its variables unset, env.yaml reports every value that needed one, by path."""
    with pytest.raises(ConfigError) as info:
        load_config(TESTDATA / "env.yaml", default_factories())

    assert info.value.problems == [
        f"{GRPC}::max_recv_msg_size_mib: expected an integer, got nothing (null)",
        f"{GRPC}::endpoint: '127.0.0.1:': port '' is not a number",
        "exporters::sqlite::path: expected a string, got nothing (null)",
    ]


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        pytest.param({"TW_A": "x.db"}, "${env:TW_A}", "x.db", id="whole"),
        pytest.param({"TW_A": "r1"}, "runs/${env:TW_A}.db", "runs/r1.db", id="embedded"),
        pytest.param(
            {"TW_A": "a", "TW_B": "b"}, "${env:TW_A}-${env:TW_B}", "a-b", id="two-references"
        ),
        pytest.param({}, "${env:TW_A:-fallback.db}", "fallback.db", id="default-when-unset"),
        pytest.param({"TW_A": ""}, "${env:TW_A:-fallback.db}", "fallback.db", id="default-empty"),
        pytest.param({"TW_A": "set.db"}, "${env:TW_A:-fallback.db}", "set.db", id="set-wins"),
        pytest.param({}, "runs/${env:TW_A}", "runs/", id="unset-embedded-is-empty"),
        pytest.param({}, "cost$$5.db", "cost$5.db", id="dollar-dollar"),
        pytest.param({}, "$$", "$", id="only-dollar-dollar"),
        pytest.param({"TW_A": "x"}, "$${env:TW_A}", "${env:TW_A}", id="escaped-reference"),
        pytest.param({}, "price$5.db", "price$5.db", id="lone-dollar-kept"),
        pytest.param({"TW_A": "x"}, "${env:TW-A}", "${env:TW-A}", id="invalid-name-kept"),
        pytest.param({"TW_A": "x"}, "${env:TW_A", "${env:TW_A", id="unclosed-kept"),
        pytest.param({"TW_A": "${env:TW_B}", "TW_B": "b"}, "${env:TW_A}", "${env:TW_B}", id="once"),
    ],
)
def test_env_reference_in_string_value(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], value: str, expected: str
) -> None:
    """${env:VAR} and ${env:VAR:-default} are substituted once, and $$ stands for a literal $."""
    for name, text in env.items():
        monkeypatch.setenv(name, text)

    config = _parse(_doc(exporters=f"{{sqlite: {{path: '{value}'}}}}"))

    assert _sqlite_path(config) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("4317", "4317", id="int-text"),
        pytest.param("0123", "0123", id="leading-zero"),
        pytest.param("true", "true", id="bool-text"),
        pytest.param("", None, id="empty-is-null"),
        pytest.param("localhost:4317", "localhost:4317", id="string"),
    ],
)
def test_whole_reference_keeps_its_text_until_a_setting_types_it(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: Any
) -> None:
    """A value that is exactly one reference keeps its text (as EnvText); empty becomes null."""
    monkeypatch.setenv("TW_PORT", text)

    result = expand_env({"grpc": {"port": "${env:TW_PORT}"}}, "", [])

    assert result == {"grpc": {"port": expected}}
    if expected is not None:
        assert isinstance(result["grpc"]["port"], EnvText)


def test_whole_reference_fills_integer_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """An integer setting given as ${env:VAR} loads as that integer."""
    monkeypatch.setenv("TW_MIB", "64")

    config = _parse(_doc_grpc("{max_recv_msg_size_mib: '${env:TW_MIB}'}"))

    assert _grpc_config(config).max_recv_msg_size_mib == 64


def test_embedded_reference_stays_a_string(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reference inside longer text gives a string, so an integer field reports its type."""
    monkeypatch.setenv("TW_MIB", "4")

    text = _doc_grpc("{max_recv_msg_size_mib: '1${env:TW_MIB}'}")

    assert _problems(text) == [f"{GRPC}::max_recv_msg_size_mib: expected an integer, got str '14'"]


@pytest.mark.parametrize("text", ["2024", "0123", "true"])
def test_whole_reference_in_string_field_keeps_its_text(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """A string setting given as ${env:VAR} keeps the variable's text even if it looks numeric."""
    monkeypatch.setenv("TW_DB", text)

    config = _parse(_doc(exporters="{sqlite: {path: '${env:TW_DB}'}}"))

    assert _sqlite_path(config) == text


def test_unset_variable_without_default_leaves_required_value_empty() -> None:
    """An unset ${env:VAR} with no default becomes null, and the required setting complains."""
    text = _doc(exporters="{sqlite: {path: '${env:TW_UNSET}'}}")

    assert _problems(text) == ["exporters::sqlite::path: expected a string, got nothing (null)"]


@pytest.mark.parametrize(
    "injected",
    [
        pytest.param("evil.db\nexporters: {}", id="newline"),
        pytest.param("a: b", id="colon-space"),
        pytest.param("{path: other.db}", id="flow-mapping"),
        pytest.param("- x\n- y", id="block-list"),
    ],
)
def test_substituted_text_cannot_change_document_shape(
    monkeypatch: pytest.MonkeyPatch, injected: str
) -> None:
    """A variable holding a newline, ': ' or YAML syntax stays one string value."""
    monkeypatch.setenv("TW_DB", injected)

    config = _parse(_doc(exporters="{sqlite: {path: '${env:TW_DB}'}}"))

    assert list(config.components[Kind.EXPORTER]) == [ComponentID("sqlite")]
    assert _sqlite_path(config) == injected
    assert list(config.pipelines) == ["metrics"]


def test_substituted_list_text_does_not_become_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable holding '[otlp]' in place of a pipeline's list stays text and is refused."""
    monkeypatch.setenv("TW_RECEIVERS", "[otlp]")

    text = _doc(pipelines="{metrics: {receivers: '${env:TW_RECEIVERS}', exporters: [sqlite]}}")

    problems = _problems(text)

    assert any(p.startswith(f"{METRICS}::receivers: expected a list of ") for p in problems)


def test_substituted_mapping_text_does_not_become_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A variable holding YAML mapping text in place of settings is refused as a string."""
    monkeypatch.setenv("TW_GRPC", "{endpoint: '0.0.0.0:4317'}")

    text = _doc_grpc("'${env:TW_GRPC}'")

    assert _problems(text) == [
        "receivers::otlp::protocols::grpc: expected a mapping of settings,"
        " got str \"{endpoint: '0.0.0.0:4317'}\""
    ]


# --- optional sections (confmap) ----------------------------------------------------------


@dataclass(frozen=True)
class _Section:
    """A nested section with one setting and a check of it."""

    size: int = 4

    def validate(self) -> list[str]:
        return [] if self.size > 0 else ["size: must be more than 0"]


@dataclass(frozen=True)
class _Holder:
    """Settings with an optional section, an optional scalar and a check across them."""

    section: _Section | None = None
    limit: int | None = None
    name: str = "x"

    def validate(self) -> list[str]:
        return [] if self.section or self.limit else ["section: required, or set limit"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({"limit": 1}, _Holder(section=None, limit=1), id="absent-section-is-none"),
        pytest.param({"section": None}, _Holder(section=_Section()), id="null-section-defaults"),
        pytest.param({"section": {}}, _Holder(section=_Section()), id="empty-section-defaults"),
        pytest.param(
            {"section": {"size": 8}}, _Holder(section=_Section(8)), id="section-laid-over"
        ),
        pytest.param(
            {"section": {}, "limit": None},
            _Holder(section=_Section(), limit=None),
            id="null-scalar",
        ),
    ],
)
def test_optional_section_absent_is_none_and_null_takes_defaults(
    data: dict[str, Any], expected: _Holder
) -> None:
    """An absent optional section stays None; one written with no value takes its defaults."""
    problems: list[str] = []

    assert decode(_Holder, data, "x", problems) == expected
    assert problems == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({}, ["x::section: required, or set limit"], id="check-runs"),
        pytest.param(
            {"section": "big"},
            ["x::section: expected a mapping of settings, got str 'big'"],
            id="bad-section-skips-check",
        ),
        pytest.param(
            {"sectoin": {}},
            ["x::sectoin: unknown key; did you mean 'section'? (valid keys: limit, name, section)"],
            id="misspelt-key-skips-check",
        ),
        pytest.param(
            {"section": {"size": 0}, "name": 3},
            ["x::section::size: must be more than 0", "x::name: expected a string, got int 3"],
            id="scalar-problem-keeps-check",
        ),
    ],
)
def test_check_across_settings_is_skipped_after_a_section_or_key_problem(
    data: dict[str, Any], expected: list[str]
) -> None:
    """validate() runs unless a key was misspelt or a nested section did not decode."""
    problems: list[str] = []

    decode(_Holder, data, "x", problems)

    assert problems == expected


def test_empty_otlp_receiver_must_enable_a_protocol() -> None:
    """An otlp receiver with no protocols listed is refused, naming protocols and the fix."""
    assert _problems(_doc(receivers="{otlp: }")) == [
        "receivers::otlp::protocols: required; enable grpc and/or http, e.g."
        " protocols: {grpc: {endpoint: localhost:4317}, http: }"
    ]


# --- the factory map ----------------------------------------------------------------------


def test_make_factory_map_refuses_duplicate_type() -> None:
    """Two factories of one kind with the same type raise ConfigError naming type and kind."""
    with pytest.raises(ConfigError) as info:
        make_factory_map([_factory("sqlite", Kind.EXPORTER), _factory("sqlite", Kind.EXPORTER)])

    assert info.value.problems == ["duplicate component factory 'sqlite' for exporters"]


def test_make_factory_map_allows_same_type_in_different_kinds() -> None:
    """One type string may name both a receiver and an exporter, as otlp does in the Collector."""
    receiver, exporter = _factory("otlp", Kind.RECEIVER), _factory("otlp", Kind.EXPORTER)

    result = make_factory_map([receiver, exporter])

    assert result[Kind.RECEIVER] == {"otlp": receiver}
    assert result[Kind.EXPORTER] == {"otlp": exporter}
    assert result[Kind.PROCESSOR] == {}
    assert result[Kind.EXTENSION] == {}


def test_default_factories_hold_the_builtins() -> None:
    """default_factories() maps every built-in component by kind and type."""
    factories = default_factories()

    assert sorted(factories[Kind.RECEIVER]) == ["hostmetrics", "nvml", "otlp"]
    assert sorted(factories[Kind.EXPORTER]) == [
        "discord",
        "otlp",
        "otlphttp",
        "prometheus",
        "sqlite",
    ]
    assert sorted(factories[Kind.PROCESSOR]) == ["attributes", "batch", "filter", "memory_limiter"]
    assert sorted(factories[Kind.CONNECTOR]) == ["liveness"]
    assert sorted(factories[Kind.EXTENSION]) == ["health_check", "storage"]


# --- reading the file ---------------------------------------------------------------------


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "absent.yaml"


def _directory(tmp_path: Path) -> Path:
    return tmp_path


def _bad_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("receivers:\n  otlp: [unclosed\n", encoding="utf-8")
    return path


def _tab_indent(tmp_path: Path) -> Path:
    path = tmp_path / "tabs.yaml"
    path.write_text("receivers:\n\totlp: {}\n", encoding="utf-8")
    return path


def _not_utf8(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("exporters:\n  sqlite:\n    path: caf\u00e9.db\n".encode("latin-1"))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(_missing, "cannot read config file '{path}': No such file or directory"),
        pytest.param(_directory, "cannot read config file '{path}': Is a directory"),
        pytest.param(_bad_yaml, "{path}: not valid YAML: "),
        pytest.param(_tab_indent, "{path}: not valid YAML: "),
        pytest.param(_not_utf8, "{path}"),
    ],
    ids=["missing", "directory", "unclosed-bracket", "tab-indent", "not-utf8"],
)
def test_unreadable_file_is_config_error_naming_it(tmp_path: Path, make: Any, message: str) -> None:
    """A file that cannot be read or parsed gives one ConfigError line that names the file."""
    path = make(tmp_path)

    with pytest.raises(ConfigError) as info:
        load_config(path, default_factories())

    assert len(info.value.problems) == 1
    assert message.format(path=path) in info.value.problems[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "",
            "service: required, with service::pipelines naming receivers and exporters",
            id="empty",
        ),
        pytest.param(
            "- receivers\n- exporters\n",
            "config: expected a mapping with receivers, exporters and service",
            id="list",
        ),
    ],
)
def test_empty_or_non_mapping_file_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    """An empty file or one whose top level is not a mapping says what the top level must be."""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as info:
        load_config(path, default_factories())

    assert info.value.problems == [expected]
