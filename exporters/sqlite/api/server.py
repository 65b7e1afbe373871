"""Run the query API on a host:port (the collector's sqlite exporter and ``trainwire ui``)."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from trainwire.collector.endpoint import parse_endpoint
from trainwire.exporters.sqlite.api.app import make_app
from trainwire.exporters.sqlite.query import RunQuery

__all__ = ["ApiServer"]

logger = logging.getLogger(__name__)


class ApiServer:
    """The query API over the store at ``db_path``, listening on ``endpoint``."""

    def __init__(
        self,
        db_path: Path,
        *,
        endpoint: str,
        read_token: str | None = None,
        artifacts_dir: Path | None = None,
        name: str = "api",
    ) -> None:
        self.db_path = db_path
        self.endpoint = endpoint
        self.read_token = read_token
        self.artifacts_dir = artifacts_dir
        self.name = name
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Open the store and listen; raise OSError naming the endpoint if it cannot bind."""
        host, port = parse_endpoint(self.endpoint)
        query = RunQuery(self.db_path, artifacts_dir=self.artifacts_dir)
        runner = web.AppRunner(make_app(query, read_token=self.read_token), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(f"{self.name}: cannot listen on {self.endpoint}: {exc}") from None
        self._runner = runner
        addresses = runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        auth = "with a read token" if self.read_token else "without a token"
        logger.info("%s: query API on http://%s:%s/api/runs (%s)", self.name, host, self.port, auth)

    async def stop(self) -> None:
        """Stop listening and close the store; safe twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
