"""The registry: every component type this collector knows, by kind.

Built-in factories are an explicit list; third-party ones arrive through the
entry-point groups ``trainwire.receivers``, ``trainwire.processors``,
``trainwire.exporters`` and ``trainwire.extensions`` (each entry point names a
:class:`Factory`) and join the same map. A duplicate type is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points

from trainwire.collector.component import Factory, Kind
from trainwire.errors import ConfigError

__all__ = ["ENTRY_POINT_GROUPS", "builtin_factories", "default_factories", "make_factory_map"]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUPS = {kind: f"trainwire.{kind.value}" for kind in Kind}


def make_factory_map(factories: Iterable[Factory]) -> dict[Kind, dict[str, Factory]]:
    """Index factories by kind and type; raise ConfigError on a duplicate type."""
    result: dict[Kind, dict[str, Factory]] = {kind: {} for kind in Kind}
    for factory in factories:
        if factory.type in result[factory.kind]:
            raise ConfigError(
                f"duplicate component factory '{factory.type}' for {factory.kind.value}"
            )
        result[factory.kind][factory.type] = factory
    return result


def builtin_factories() -> list[Factory]:
    """The factories shipped with trainwire."""
    from trainwire.collector.connectors.liveness import factory as liveness_connector
    from trainwire.collector.extensions.health_check import factory as health_check_extension
    from trainwire.collector.extensions.storage import factory as storage_extension
    from trainwire.collector.processors.attributes import factory as attributes_processor
    from trainwire.collector.processors.batch import factory as batch_processor
    from trainwire.collector.processors.filter import factory as filter_processor
    from trainwire.collector.processors.memory_limiter import factory as memory_limiter_processor
    from trainwire.collector.receivers.hostmetrics import factory as hostmetrics_receiver
    from trainwire.collector.receivers.nvml import factory as nvml_receiver
    from trainwire.collector.receivers.otlp import factory as otlp_receiver
    from trainwire.exporters.discord import factory as discord_exporter
    from trainwire.exporters.otlp import factory as otlp_exporter
    from trainwire.exporters.otlp import http_factory as otlphttp_exporter
    from trainwire.exporters.prometheus import factory as prometheus_exporter
    from trainwire.exporters.sqlite import factory as sqlite_exporter

    return [
        otlp_receiver,
        nvml_receiver,
        hostmetrics_receiver,
        memory_limiter_processor,
        filter_processor,
        attributes_processor,
        batch_processor,
        sqlite_exporter,
        otlp_exporter,
        otlphttp_exporter,
        discord_exporter,
        prometheus_exporter,
        liveness_connector,
        storage_extension,
        health_check_extension,
    ]


def _entry_point_factories() -> list[Factory]:
    found = []
    for kind, group in ENTRY_POINT_GROUPS.items():
        for entry in entry_points(group=group):
            factory = entry.load()
            if not isinstance(factory, Factory) or factory.kind is not kind:
                raise ConfigError(
                    f"entry point '{entry.name}' in group {group} must name a {kind.value[:-1]}"
                    f" Factory, got {factory!r}"
                )
            found.append(factory)
    return found


def default_factories() -> Mapping[Kind, Mapping[str, Factory]]:
    """Built-in factories plus those registered through entry points."""
    return make_factory_map([*builtin_factories(), *_entry_point_factories()])
