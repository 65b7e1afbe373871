"""The HTTP query API over the run store, served by the collector and by ``trainwire ui``."""

from __future__ import annotations

from trainwire.exporters.sqlite.api.app import make_app
from trainwire.exporters.sqlite.api.server import ApiServer

__all__ = ["ApiServer", "make_app"]
