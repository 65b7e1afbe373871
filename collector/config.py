"""Load the collector config, in the OpenTelemetry Collector's own format.

One pass: parse with ``yaml.safe_load``; substitute ``${env:VAR}`` and
``${env:VAR:-default}`` in string values (after parsing, so a value holding a
newline or a colon cannot change the document's shape); lay each component's
keys over its factory defaults, rejecting unknown keys by path; run every
``validate()``; check that pipelines name only configured components. Every
problem is collected into one :class:`ConfigError`, a line each, with a path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.confmap import EnvText, decode
from trainwire.errors import ConfigError

__all__ = ["CollectorConfig", "PipelineConfig", "expand_env", "load_config", "parse_config"]

_ENV_REF = re.compile(r"\$\$|\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TOP_LEVEL = ("receivers", "processors", "exporters", "connectors", "extensions", "service")
_KIND_WORD = {
    Kind.RECEIVER: "receiver",
    Kind.PROCESSOR: "processor",
    Kind.EXPORTER: "exporter",
    Kind.CONNECTOR: "connector",
    Kind.EXTENSION: "extension",
}


_LOG_LEVELS = ("debug", "info", "warn", "warning", "error")


@dataclass(frozen=True)
class TelemetryLogsConfig:
    """``service::telemetry::logs``: the collector's own log output."""

    level: str = "info"

    def validate(self) -> list[str]:
        """Return one line per problem."""
        if self.level.lower() not in _LOG_LEVELS:
            return [f"level: '{self.level}' is not one of {', '.join(_LOG_LEVELS)}"]
        return []


@dataclass(frozen=True)
class TelemetryMetricsConfig:
    """``service::telemetry::metrics``: the collector's own metrics, for Prometheus to scrape."""

    address: str = ""
    """``host:port`` of the endpoint, e.g. ``localhost:8888`` (port 0 picks a free one);
    empty serves nothing. Needs ``pip install 'trainwire[prometheus]'``."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        if not self.address:
            return []
        # Imported on use, so that importing this module does not import the receiver package.
        from trainwire.collector.endpoint import parse_endpoint

        try:
            parse_endpoint(self.address)
        except ValueError as exc:
            return [f"address: {exc}"]
        return []


@dataclass(frozen=True)
class TelemetryConfig:
    """``service::telemetry``: the collector's own telemetry."""

    logs: TelemetryLogsConfig = field(default_factory=TelemetryLogsConfig)
    metrics: TelemetryMetricsConfig = field(default_factory=TelemetryMetricsConfig)


@dataclass(frozen=True)
class PipelineConfig:
    """One ``service::pipelines`` entry: its signal and the components in order."""

    signal: Signal
    receivers: tuple[ComponentID, ...] = ()
    processors: tuple[ComponentID, ...] = ()
    exporters: tuple[ComponentID, ...] = ()


@dataclass(frozen=True)
class CollectorConfig:
    """A validated collector config: component configs by id, and the pipelines."""

    components: Mapping[Kind, Mapping[ComponentID, Any]]
    pipelines: Mapping[str, PipelineConfig]
    extensions: tuple[ComponentID, ...] = ()
    log_level: str = "info"
    factories: Mapping[Kind, Mapping[str, Factory]] = field(default_factory=dict, repr=False)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)


def load_config(
    path: str | os.PathLike[str],
    factories: Mapping[Kind, Mapping[str, Factory]],
    *,
    require_receivers: bool = True,
) -> CollectorConfig:
    """Read and validate a config file; raise :class:`ConfigError` naming every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {os.fspath(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"cannot read config file {os.fspath(path)!r}: not UTF-8 text ({exc.reason} at byte"
            f" {exc.start}); save it as UTF-8"
        ) from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{os.fspath(path)}: not valid YAML: {exc}") from None
    return parse_config(raw, factories, require_receivers=require_receivers)


class _StrictLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses a key given twice in one mapping (an error in YAML)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (the second would silently win)",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_config(
    raw: Any,
    factories: Mapping[Kind, Mapping[str, Factory]],
    *,
    require_receivers: bool = True,
) -> CollectorConfig:
    """Validate an already-parsed config mapping (see :func:`load_config`)."""
    problems: list[str] = []
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("config: expected a mapping with receivers, exporters and service")
    raw = expand_env(raw, "", problems)
    for key in raw:
        if key not in _TOP_LEVEL:
            problems.append(f"{key}: unknown top-level key (valid: {', '.join(_TOP_LEVEL)})")
    components: dict[Kind, dict[ComponentID, Any]] = {}
    for kind in Kind:
        components[kind] = _decode_section(kind, raw.get(kind.value), factories, problems)
    service = raw.get("service")
    pipelines, extensions, telemetry = _decode_service(
        service, components, factories, problems, require_receivers
    )
    if problems:
        raise ConfigError(problems)
    log_level = telemetry.logs.level.lower()
    return CollectorConfig(components, pipelines, extensions, log_level, factories, telemetry)


def expand_env(value: Any, path: str, problems: list[str]) -> Any:
    """Substitute ``${env:VAR}`` / ``${env:VAR:-default}`` in every string of ``value``.

    ``$$`` stands for a literal ``$``. A string that is exactly one reference
    keeps its text as :class:`EnvText`, which a numeric or boolean setting then
    parses (so ``port: ${env:PORT}`` works while ``path: ${env:DB}`` keeps ``0123``),
    as in the Collector. An unset variable without a default becomes empty (null).
    """
    if isinstance(value, Mapping):
        return {
            k: expand_env(v, f"{path}::{k}" if path else str(k), problems) for k, v in value.items()
        }
    if isinstance(value, list):
        return [expand_env(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        return os.environ.get(name) or (default if default is not None else "")

    whole = _ENV_REF.fullmatch(value)
    expanded = _ENV_REF.sub(substitute, value)
    if whole and whole.group(0) != "$$":
        return EnvText(expanded) if expanded.strip() else None
    return expanded


def _decode_section(
    kind: Kind,
    section: Any,
    factories: Mapping[Kind, Mapping[str, Factory]],
    problems: list[str],
) -> dict[ComponentID, Any]:
    result: dict[ComponentID, Any] = {}
    if section is None:
        return result
    if not isinstance(section, Mapping):
        problems.append(f"{kind.value}: expected a mapping of component ids to settings")
        return result
    known = factories.get(kind, {})
    for key, value in section.items():
        path = f"{kind.value}::{key}"
        try:
            cid = ComponentID.parse(str(key))
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
            continue
        factory = known.get(cid.type)
        if factory is None:
            names = ", ".join(sorted(known)) or "none"
            problems.append(
                f"{path}: unknown {_KIND_WORD[kind]} type '{cid.type}' (known types: {names})"
            )
            result[cid] = None  # declared, so pipelines naming it get no second complaint
            continue
        result[cid] = decode(type(factory.default_config()), value, path, problems)
    return result


def _decode_service(
    service: Any,
    components: Mapping[Kind, Mapping[ComponentID, Any]],
    factories: Mapping[Kind, Mapping[str, Factory]],
    problems: list[str],
    require_receivers: bool,
) -> tuple[dict[str, PipelineConfig], tuple[ComponentID, ...], TelemetryConfig]:
    if not isinstance(service, Mapping):
        problems.append("service: required, with service::pipelines naming receivers and exporters")
        return {}, (), TelemetryConfig()
    for key in service:
        if key not in ("pipelines", "extensions", "telemetry"):
            problems.append(
                f"service::{key}: unknown key (valid: extensions, pipelines, telemetry)"
            )
    extensions = tuple(
        _refs(
            service.get("extensions"), Kind.EXTENSION, "service::extensions", components, problems
        )
    )
    telemetry = decode(TelemetryConfig, service.get("telemetry"), "service::telemetry", problems)
    pipelines: dict[str, PipelineConfig] = {}
    raw_pipelines = service.get("pipelines")
    if not isinstance(raw_pipelines, Mapping) or not raw_pipelines:
        problems.append(
            "service::pipelines: required; add e.g."
            " metrics: {receivers: [otlp], exporters: [sqlite]}"
        )
        return pipelines, extensions, telemetry
    for name, body in raw_pipelines.items():
        path = f"service::pipelines::{name}"
        signal_word = str(name).partition("/")[0]
        try:
            signal = Signal(signal_word)
        except ValueError:
            valid = ", ".join(s.value for s in Signal)
            problems.append(f"{path}: unknown signal '{signal_word}' (valid: {valid})")
            continue
        if not isinstance(body, Mapping):
            problems.append(f"{path}: expected a mapping with receivers and exporters")
            continue
        for key in body:
            if key not in ("receivers", "processors", "exporters"):
                problems.append(
                    f"{path}::{key}: unknown key (valid: exporters, processors, receivers)"
                )
        receivers = _refs(
            body.get("receivers"), Kind.RECEIVER, f"{path}::receivers", components, problems
        )
        processors = _refs(
            body.get("processors"), Kind.PROCESSOR, f"{path}::processors", components, problems
        )
        exporters = _refs(
            body.get("exporters"), Kind.EXPORTER, f"{path}::exporters", components, problems
        )
        # Judge "at least one" by what was written: a named-but-unknown id already has its line.
        if require_receivers and not body.get("receivers"):
            problems.append(f"{path}::receivers: required; name at least one receiver, e.g. [otlp]")
        if not body.get("exporters"):
            problems.append(
                f"{path}::exporters: required; name at least one exporter, e.g. [sqlite]"
            )
        for kind, ids in (
            (Kind.RECEIVER, receivers),
            (Kind.PROCESSOR, processors),
            (Kind.EXPORTER, exporters),
        ):
            for cid in ids:
                if cid in components.get(Kind.CONNECTOR, {}):
                    factory = factories.get(Kind.CONNECTOR, {}).get(cid.type)
                    supported = (
                        (factory.emits if kind is Kind.RECEIVER else factory.signals)
                        if factory
                        else None
                    )
                    if supported is not None and signal not in supported:
                        problems.append(
                            f"{path}: connector '{cid}' cannot be a"
                            f" {_KIND_WORD[kind]} of {signal.value}"
                        )
                    continue
                factory = factories.get(kind, {}).get(cid.type)
                if factory is not None and signal not in factory.signals:
                    problems.append(
                        f"{path}: {_KIND_WORD[kind]} '{cid}' does not support {signal.value}"
                    )
        pipelines[str(name)] = PipelineConfig(
            signal, tuple(receivers), tuple(processors), tuple(exporters)
        )
    _check_connectors(pipelines, components, problems)
    return pipelines, extensions, telemetry


def _check_connectors(
    pipelines: Mapping[str, PipelineConfig],
    components: Mapping[Kind, Mapping[ComponentID, Any]],
    problems: list[str],
) -> None:
    """A connector must both take data from one pipeline and feed another."""
    for cid in components.get(Kind.CONNECTOR, {}):
        as_exporter = [n for n, p in pipelines.items() if cid in p.exporters]
        as_receiver = [n for n, p in pipelines.items() if cid in p.receivers]
        if as_exporter and not as_receiver:
            problems.append(
                f"connectors::{cid}: used as an exporter ({', '.join(as_exporter)}) but no"
                " pipeline lists it under receivers; add it to e.g. a logs pipeline's receivers"
            )
        elif as_receiver and not as_exporter:
            problems.append(
                f"connectors::{cid}: used as a receiver ({', '.join(as_receiver)}) but no"
                " pipeline lists it under exporters, so it would never get data"
            )


def _refs(
    value: Any,
    kind: Kind,
    path: str,
    components: Mapping[Kind, Mapping[ComponentID, Any]],
    problems: list[str],
) -> list[ComponentID]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{path}: expected a list of {_KIND_WORD[kind]} ids")
        return []
    ids: list[ComponentID] = []
    configured = dict(components.get(kind, {}))
    if kind in (Kind.RECEIVER, Kind.EXPORTER):  # a connector is both, in different pipelines
        configured.update(components.get(Kind.CONNECTOR, {}))
    for item in value:
        try:
            cid = ComponentID.parse(str(item))
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
            continue
        if cid not in configured:
            names = ", ".join(sorted(str(c) for c in configured)) or "none"
            problems.append(
                f"{path}: references {_KIND_WORD[kind]} '{cid}' which is not configured;"
                f" add it under {kind.value}: or fix the name (configured: {names})"
            )
            continue
        if cid in ids:
            problems.append(f"{path}: '{cid}' is listed twice")
            continue
        ids.append(cid)
    return ids
