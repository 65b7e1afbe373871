"""``trainwire.Client``: runs, metrics and artifacts from a store file or a query API URL."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from trainwire.client._files import (
    _NON_FINITE,
    Progress,
    points_of,
    read_verified,
    write_verified,
)
from trainwire.client._watch import ArtifactStatus, ArtifactWatch, poll_artifact, poll_run

__all__ = ["Client"]


class Backend(Protocol):
    """What the Client needs from a store: the query API's bodies, by run reference."""

    def list_runs(self, **query: Any) -> dict[str, Any]: ...
    def get_run(self, ref: str) -> dict[str, Any]: ...
    def metrics(self, ref: str, **query: Any) -> dict[str, Any]: ...
    def artifacts(self, ref: str) -> dict[str, Any]: ...
    def events(self, ref: str, **query: Any) -> dict[str, Any]: ...
    def histograms(self, ref: str, **query: Any) -> dict[str, Any]: ...
    def open_artifact(
        self, ref: str, name: str
    ) -> tuple[str | None, int | None, Iterator[bytes]]: ...
    def close(self) -> None: ...


class Client:
    """Read runs from a store file (``./trainwire.db``) or a server (``http://host:port``).

    Run references are ids, unique id prefixes or run names. Unknown runs raise
    :class:`~trainwire.errors.RunNotFoundError`, unknown artifacts
    :class:`~trainwire.errors.ArtifactNotFoundError`; both are ``LookupError``.

    ::

        client = trainwire.Client("trainwire.db")
        for run in client.runs(where="params.lr < 0.01", sort="-summary.val_acc"):
            print(run["name"], run["status"])
    """

    def __init__(
        self,
        url_or_db_path: str | os.PathLike[str],
        *,
        token: str | None = None,
        artifacts_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Open a store file, or prepare calls to a server at ``http(s)://...``.

        Args:
            token: the server's read token (``exporters::sqlite::api::read_token``).
            artifacts_dir: a store file's artifact store (default: ``trainwire-artifacts/``
                beside it, where the embedded default keeps blobs).

        Raises:
            FileNotFoundError: no store file at that path.
        """
        target = os.fspath(url_or_db_path)
        self._backend: Backend
        if target.startswith(("http://", "https://")):
            from trainwire.client._http import HttpBackend

            self._backend = HttpBackend(target, token=token)
        else:
            from trainwire.client._local import LocalBackend

            blobs = Path(artifacts_dir) if artifacts_dir is not None else None
            self._backend = LocalBackend(Path(target), artifacts_dir=blobs)
        self.target = target

    def __repr__(self) -> str:
        return f"Client({self.target!r})"

    def close(self) -> None:
        """Release the store file (nothing to do for a URL)."""
        self._backend.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def runs(
        self,
        *,
        experiment: str | None = None,
        status: str | None = None,
        tag: str | None = None,
        label: str | None = None,
        where: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[dict[str, Any]]:
        """Runs matching every filter given, newest first unless ``sort`` says otherwise.

        ``tag`` is ``key`` or ``key=value``; ``where`` is an expression on params and
        summaries, e.g. ``"params.lr < 0.01 and summary.val_acc > 0.9"``; ``sort`` is a
        comma-separated list of fields (``start_time``, ``name``, ``params.lr``,
        ``summary.loss``), ``-`` first for descending.

        Raises:
            InvalidQueryError: a filter or sort expression is malformed (the message shows where).
        """
        page = self.runs_page(
            experiment=experiment,
            status=status,
            tag=tag,
            label=label,
            where=where,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        runs: list[dict[str, Any]] = page["runs"]
        return runs

    def runs_page(self, **filters: Any) -> dict[str, Any]:
        """:meth:`runs` as the API's whole body: ``{"runs", "total", "limit", "offset"}``."""
        return self._backend.list_runs(**filters)

    def run(self, run_id: str) -> dict[str, Any]:
        """One run: its fields, params, tags, labels and summary."""
        return self._backend.get_run(run_id)

    def metrics(
        self,
        run_id: str,
        key: str | None = None,
        *,
        from_step: int | None = None,
        to_step: int | None = None,
        max_points: int | None = None,
    ) -> list[dict[str, Any]]:
        """The run's metric points (all logged metrics, or just ``key``), one dict a point.

        Each point is ``{"key", "step", "time", "value", "source"}``: ``time`` in Unix
        nanoseconds, ``value`` a float (NaN and infinities kept), ``source`` ``logged``
        (``run.log``) or ``system`` (system and OpenTelemetry metrics). ``max_points``
        downsamples each series keeping its min/max shape.
        """
        return points_of(
            self.series(run_id, key, from_step=from_step, to_step=to_step, max_points=max_points)
        )

    def series(
        self,
        run_id: str,
        key: str | None = None,
        *,
        from_step: int | None = None,
        to_step: int | None = None,
        max_points: int | None = None,
    ) -> list[dict[str, Any]]:
        """The run's series as the API sends them: one dict a series, with ``step``,
        ``time`` and ``value`` lists (non-finite values as ``"NaN"``, ``"Infinity"``)."""
        body = self._backend.metrics(
            run_id, key=key, from_step=from_step, to_step=to_step, max_points=max_points
        )
        series: list[dict[str, Any]] = body["metrics"]
        return series

    def metrics_df(self, run_id: str, key: str | None = None, **query: Any) -> Any:
        """:meth:`metrics` as a pandas DataFrame (columns ``key, step, time, value, source``).

        Raises:
            ImportError: pandas is not installed.
        """
        try:
            pd = importlib.import_module("pandas")
        except ImportError:
            raise ImportError(
                "Client.metrics_df needs pandas: `pip install pandas`"
                " (or use Client.metrics, which returns a list of dicts)"
            ) from None
        points = self.metrics(run_id, key, **query)
        frame = pd.DataFrame(points, columns=["key", "step", "time", "value", "source"])
        frame["step"] = frame["step"].astype("Int64")  # system metrics have no step
        return frame

    def histograms(
        self,
        run_id: str,
        key: str | None = None,
        *,
        from_step: int | None = None,
        to_step: int | None = None,
    ) -> list[dict[str, Any]]:
        """The run's distributions (``run.log_histogram``, OpenTelemetry histograms and
        summaries), one dict a series with its ``points``: ``step, time, count, sum, min,
        max`` and the buckets (``bounds`` and ``counts`` for ``log_histogram``)."""
        body = self._backend.histograms(run_id, key=key, from_step=from_step, to_step=to_step)
        series: list[dict[str, Any]] = body["histograms"]
        for one in series:
            for point in one["points"]:
                for field in ("sum", "min", "max"):
                    point[field] = _NON_FINITE.get(point[field], point[field])
        return series

    def events(self, run_id: str, **query: Any) -> list[dict[str, Any]]:
        """The run's events (console lines, alerts, artifacts, ...), oldest first."""
        body = self._backend.events(run_id, **query)
        events: list[dict[str, Any]] = body["events"]
        return events

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        """The run's artifacts: ``name, kind, sha256, size, mime_type`` and more."""
        body = self._backend.artifacts(run_id)
        artifacts: list[dict[str, Any]] = body["artifacts"]
        return artifacts

    def get_artifact(self, run_id: str, name: str) -> bytes:
        """The bytes of artifact ``name`` of the run (its latest version), checked by sha256.

        Raises:
            ArtifactNotFoundError: the run has no artifact of that name.
            CorruptArtifactError: the bytes do not hash to the artifact's sha256.
        """
        expected, _, chunks = self._backend.open_artifact(run_id, name)
        return read_verified(chunks, expected, f"artifact {name!r} of run {run_id}")

    def download_artifact(
        self,
        run_id: str,
        name: str,
        dest: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
    ) -> Path:
        """Write artifact ``name`` to ``dest`` (a file, or a folder to put it in); return the path.

        The bytes go to a temporary file beside ``dest`` that replaces it only once they
        hash to the artifact's sha256, so ``dest`` is never left half-written.
        ``progress(done, total)`` is called after each chunk (``total`` None if unknown).
        """
        target = Path(dest)
        if target.is_dir() or os.fspath(dest).endswith(("/", os.sep)):
            target = target / name.rsplit("/", 1)[-1]
        expected, size, chunks = self._backend.open_artifact(run_id, name)
        what = f"artifact {name!r} of run {run_id}"
        write_verified(chunks, target, expected, what, size=size, progress=progress)
        return target

    def wait_for_run(
        self, run_id: str, timeout: float | None = None, poll_interval: float = 1.0
    ) -> dict[str, Any]:
        """Wait until the run is no longer running; return it (its final status included).

        Raises:
            TimeoutError: still running after ``timeout`` seconds.
        """
        return poll_run(lambda: self.run(run_id), timeout=timeout, poll_interval=poll_interval)

    def wait_for_artifact(
        self,
        run_id: str,
        name: str,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        on_status: Callable[[ArtifactStatus], None] | None = None,
    ) -> dict[str, Any]:
        """Wait until the run has artifact ``name``; return its metadata.

        ``on_status`` gets an :class:`ArtifactStatus` at the start and at each change
        (``waiting``, ``run_crashed``, ``run_ended``, ``unreachable``, ``available``).

        Raises:
            TimeoutError: not there after ``timeout`` seconds.
            ArtifactNotFoundError: the run ended without it.
        """
        return self._poll_artifact(run_id, name, timeout, poll_interval, on_status, None)

    def watch_artifact(
        self,
        run_id: str,
        name: str,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        on_status: Callable[[ArtifactStatus], None] | None = None,
    ) -> ArtifactWatch:
        """:meth:`wait_for_artifact` in a background thread; returns a handle to join or cancel.

        ``on_status`` is called from that thread.
        """
        return ArtifactWatch(
            lambda stop: self._poll_artifact(run_id, name, timeout, poll_interval, on_status, stop),
            name=f"trainwire-watch-{name}",
        )

    def _poll_artifact(
        self,
        run_id: str,
        name: str,
        timeout: float | None,
        poll_interval: float,
        on_status: Callable[[ArtifactStatus], None] | None,
        stop: threading.Event | None,
    ) -> dict[str, Any]:
        return poll_artifact(
            lambda: self.run(run_id),
            lambda: self._find(run_id, name),
            name,
            timeout=timeout,
            poll_interval=poll_interval,
            on_status=on_status,
            stop=stop,
        )

    def _find(self, run_id: str, name: str) -> dict[str, Any] | None:
        for artifact in self.artifacts(run_id):
            if artifact.get("name") == name:
                return artifact
        return None
