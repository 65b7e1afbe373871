"""Factory of the health_check extension."""

from __future__ import annotations

from trainwire.collector.component import ComponentID, Factory, Kind
from trainwire.collector.extensions.health_check.config import HealthCheckConfig
from trainwire.collector.extensions.health_check.health_check import HealthCheckExtension

__all__ = ["factory"]


def _create(config: HealthCheckConfig, *, id: ComponentID) -> HealthCheckExtension:
    return HealthCheckExtension(config, id=id)


factory = Factory(
    type="health_check",
    kind=Kind.EXTENSION,
    default_config=HealthCheckConfig,
    create=_create,
    signals=frozenset(),
)
