"""The trainwire collector: OTLP in, run store and other destinations out."""

from __future__ import annotations

from trainwire.collector.component import ComponentID, Factory, Kind, Signal
from trainwire.collector.components import default_factories, make_factory_map
from trainwire.collector.config import CollectorConfig, load_config, parse_config
from trainwire.collector.pipeline import Graph
from trainwire.collector.service import Service

__all__ = [
    "CollectorConfig",
    "ComponentID",
    "Factory",
    "Graph",
    "Kind",
    "Service",
    "Signal",
    "default_factories",
    "load_config",
    "make_factory_map",
    "parse_config",
]
