"""Processors: what a pipeline does to telemetry between its receivers and exporters.

Every processor here keeps the collector's promise that *acknowledged means
durable*: ``consume_*`` returns only once the data it kept has been handed
downstream and the downstream call returned, and a downstream exception reaches
the caller unchanged. Requests are never modified in place (a receiver hands the
same request to every pipeline of its signal); a processor that changes data
works on its own copy.
"""

from __future__ import annotations

__all__: list[str] = []
