"""The health_check extension: an HTTP endpoint that says whether the collector is serving."""

from __future__ import annotations

from trainwire.collector.extensions.health_check.config import HealthCheckConfig
from trainwire.collector.extensions.health_check.factory import factory
from trainwire.collector.extensions.health_check.health_check import HealthCheckExtension

__all__ = ["HealthCheckConfig", "HealthCheckExtension", "factory"]
