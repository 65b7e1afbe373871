"""The Client's local backend: a store file read through the query API's own RunQuery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["LocalBackend"]


class LocalBackend:
    """Answers with exactly the bodies the HTTP API would send for the same store."""

    def __init__(self, path: Path, *, artifacts_dir: Path | None = None) -> None:
        from trainwire.exporters.sqlite.query import RunQuery

        self._query = RunQuery(path, artifacts_dir=artifacts_dir)

    def close(self) -> None:
        """Close the store file."""
        self._query.close()

    def list_runs(self, **query: Any) -> dict[str, Any]:
        """Runs matching the filters that are set."""
        return self._query.list_runs(**_set(query))

    def get_run(self, ref: str) -> dict[str, Any]:
        """One run in full."""
        return self._query.get_run(ref)

    def metrics(self, ref: str, **query: Any) -> dict[str, Any]:
        """The run's series."""
        return self._query.metrics(ref, **_set(query))

    def artifacts(self, ref: str) -> dict[str, Any]:
        """The run's artifacts."""
        return self._query.artifacts(ref)

    def histograms(self, ref: str, **query: Any) -> dict[str, Any]:
        """The run's distributions."""
        return self._query.histograms(ref, **_set(query))

    def events(self, ref: str, **query: Any) -> dict[str, Any]:
        """The run's events."""
        return self._query.events(ref, **_set(query))

    def open_artifact(self, ref: str, name: str) -> tuple[str | None, int | None, Iterator[bytes]]:
        """``(None, size, chunks)``: RunQuery checks the digest itself as the chunks are read."""
        meta, chunks = self._query.open_artifact(ref, name)
        return None, int(meta["size"]), chunks


def _set(query: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in query.items() if v is not None}
