"""``/metrics`` over HTTP on a thread of its own, the format negotiated by prometheus-client."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.exposition import choose_encoder, gzip_accepted

from trainwire.exporters.prometheus.exposition import Exposition

__all__ = ["MetricsServer"]

_OPENMETRICS = "application/openmetrics-text"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


class MetricsServer:
    """Serves an :class:`Exposition` on any GET path (``/metrics`` by convention)."""

    def __init__(self, exposition: Exposition, host: str, port: int) -> None:
        server_class = _Server6 if ":" in host else _Server
        self._httpd = make_server(host, port, self._app, server_class, handler_class=_Quiet)
        self.port = int(self._httpd.server_address[1])
        self._exposition = exposition
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="prometheus /metrics", daemon=True
        )
        self._thread.start()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] != "GET":
            start_response("405 Method Not Allowed", [("Allow", "GET")])
            return [b"use GET\n"]
        _, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        body = self._exposition.render(openmetrics=content_type.startswith(_OPENMETRICS))
        headers = [("Content-Type", content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [body]

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5.0)
