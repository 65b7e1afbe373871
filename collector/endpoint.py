"""``host:port`` settings, as every listening component of the collector takes them."""

from __future__ import annotations

__all__ = ["parse_endpoint"]


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:port`` for IPv6); raise ValueError naming the problem."""
    host, sep, port_text = endpoint.rpartition(":")
    if not sep or not host:
        raise ValueError(f"'{endpoint}' is not host:port, e.g. localhost:4317")
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"'{endpoint}': port '{port_text}' is not a number")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"'{endpoint}': port {port} is outside 0-65535")
    return host.strip("[]"), port
